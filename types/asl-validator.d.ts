// asl-validator ships no types. It mutates its input: always pass a clone.
declare module "asl-validator" {
  interface ValidationResult {
    isValid: boolean;
    errors: { message?: string; path?: string; [key: string]: unknown }[];
  }
  function validator(
    definition: unknown,
    opts?: { checkPaths?: boolean; checkArn?: boolean },
  ): ValidationResult;
  export = validator;
}
