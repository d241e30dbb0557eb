/** The part of @aws-sdk/client-ssm the CLI uses, by name (see ./ec2.ts). */
export {
  GetCommandInvocationCommand,
  GetParameterCommand,
  SendCommandCommand,
  SSMClient,
  paginateDescribeInstanceAssociationsStatus,
  paginateDescribeInstanceInformation,
  paginateGetParametersByPath,
} from '@aws-sdk/client-ssm';
