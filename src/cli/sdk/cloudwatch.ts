/** The part of @aws-sdk/client-cloudwatch the CLI uses, by name (see ./ec2.ts). */
export { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
