import type { SSTConfig } from "sst";
import { Data } from "./stacks/Data.ts";
import { Pipeline } from "./stacks/Pipeline.ts";
import { CONTEXT_FROM_ENV } from "./stacks/settings.ts";

/**
 * SST v2 app, the one deploy entry: `npx sst deploy --stage prod` on AWS, `npm run deploy:local` on the
 * local cloud (LocalStack), `npx sst dev` (live Lambda). `npm run test:infra` checks it offline.
 * Optional knobs come from the environment (SST also loads `.env.<stage>`): see CONTEXT_FROM_ENV.
 */
export default {
  config() {
    return { name: "weather-dataops", region: "us-east-1" };
  },
  stacks(app) {
    for (const [key, variable] of Object.entries(CONTEXT_FROM_ENV)) {
      const value = process.env[variable];
      if (value) app.node.setContext(key, value);
    }
    app.stack(Data).stack(Pipeline);
  },
} satisfies SSTConfig;
