/**
 * The part of @aws-sdk/client-ec2 the CLI uses, by name: the bundle (scripts/build.mjs) keeps only
 * these and what they need, instead of the whole client with its hundreds of commands. Type-checking
 * fails on a use of a name that is not listed here.
 */
export {
  DescribeAvailabilityZonesCommand,
  DescribeImagesCommand,
  DescribeKeyPairsCommand,
  DescribeSpotPriceHistoryCommand,
  EC2Client,
  StartInstancesCommand,
  StopInstancesCommand,
  paginateDescribeCapacityBlockOfferings,
  paginateDescribeCapacityReservations,
  paginateDescribeInstanceTypeOfferings,
  paginateDescribeInstanceTypes,
  paginateDescribeInstances,
  paginateDescribeSpotPriceHistory,
  paginateDescribeVolumes,
  paginateGetSpotPlacementScores,
} from '@aws-sdk/client-ec2';
