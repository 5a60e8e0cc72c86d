#!/usr/bin/env node
// The `weather` command. The sources are TypeScript run through tsx, so a clone works without a build.
import { register } from "tsx/esm/api";

register();
await import("../cli/main.ts");
