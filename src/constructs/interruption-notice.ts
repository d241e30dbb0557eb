import { Construct } from 'constructs';
import { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule';
import { CloudwatchEventTarget } from '@cdktf/provider-aws/lib/cloudwatch-event-target';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { SnsTopic } from '@cdktf/provider-aws/lib/sns-topic';
import { SnsTopicPolicy } from '@cdktf/provider-aws/lib/sns-topic-policy';
import { SnsTopicSubscription } from '@cdktf/provider-aws/lib/sns-topic-subscription';

export interface InterruptionNoticeProps {
  readonly name: string;
  /** Reference (a local's fqn, no `${}`) to the list of the boxes' instance ids. */
  readonly instanceIdsRef: string;
  /**
   * E-mail address subscribed to the notices (AWS sends a confirmation mail first).
   * @default - no subscription; subscribe to the topic yourself
   */
  readonly email?: string;
}

/** The two-minute interruption warning and the earlier rebalance hint, delivered to an SNS topic. */
export const INTERRUPTION_DETAIL_TYPES = [
  'EC2 Spot Instance Interruption Warning',
  'EC2 Instance Rebalance Recommendation',
];

/** Tells the user when AWS is about to take a spot box away, so work can be saved first. */
export class InterruptionNotice extends Construct {
  readonly topicArn: string;

  constructor(scope: Construct, id: string, props: InterruptionNoticeProps) {
    super(scope, id);

    const topic = new SnsTopic(this, 'topic', { namePrefix: `${props.name}-notice-` });
    const rule = new CloudwatchEventRule(this, 'rule', {
      namePrefix: `${props.name}-notice-`,
      description: `Spot interruption warnings and rebalance recommendations for the ${props.name} boxes`,
      eventPattern:
        `\${jsonencode({ source = ["aws.ec2"], "detail-type" = ${JSON.stringify(INTERRUPTION_DETAIL_TYPES)}, ` +
        `detail = { "instance-id" = ${props.instanceIdsRef} } })}`,
    });
    new CloudwatchEventTarget(this, 'target', { rule: rule.name, arn: topic.arn });

    const publishFromRule = new DataAwsIamPolicyDocument(this, 'publish-from-rule', {
      statement: [{
        actions: ['sns:Publish'],
        principals: [{ type: 'Service', identifiers: ['events.amazonaws.com'] }],
        resources: [topic.arn],
        condition: [{ test: 'ArnEquals', variable: 'aws:SourceArn', values: [rule.arn] }],
      }],
    });
    new SnsTopicPolicy(this, 'topic-policy', { arn: topic.arn, policy: publishFromRule.json });

    if (props.email !== undefined) {
      new SnsTopicSubscription(this, 'email', { topicArn: topic.arn, protocol: 'email', endpoint: props.email });
    }
    this.topicArn = topic.arn;
  }
}
