/**
 * What SST v2 puts into every stack beside ours: `CustomResourceHandler`, a Lambda function with a role
 * of its own (sst/constructs/Stack.js), which runs SST's custom resources — on `sst deploy`, the upload
 * of the functions' source maps to SST's bootstrap bucket. Its runtime and policy are SST's choice,
 * fixed by the pinned sst 2.49.8; the findings they raise are recorded here, once, with the reason.
 */
import { NagSuppressions } from "cdk-nag";
import type { Stack } from "sst/constructs";

export function acceptSstStackHandler(stack: Stack): void {
  NagSuppressions.addResourceSuppressions(
    stack.customResourceHandler,
    [
      {
        id: "AwsSolutions-IAM4",
        reason:
          "SST's own custom-resource handler (sst/constructs Stack) is created by SST with the AWS managed " +
          "AWSLambdaBasicExecutionRole; it only runs SST's deploy-time custom resources.",
        appliesTo: ["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
      },
      {
        id: "AwsSolutions-L1",
        reason:
          "SST's own custom-resource handler runs on the runtime SST 2.49.8 chose (nodejs22.x); it runs only " +
          "while a stack deploys and is upgraded with SST, not by us.",
      },
    ],
    true,
  );
}
