/**
 * Which argument changes replace a resource (ForceNew in an SDKv2 schema, RequiresReplace in a
 * terraform-plugin-framework one), taken from the providers' own source for every resource type the
 * stack uses: the cdktf packages the stand-in's schemas come from do not record it.
 *
 * Source read: hashicorp/terraform-provider-aws at the v5.14.0 development tree (2023-08; the newest
 * tree that could be read here, as pulumi/terraform-provider-aws branch `patched-v5.14.0`, commit
 * 122a58103640826a4793ef37353289632b78452b, whose patches leave these schemas alone), each schema's
 * ForceNew flags listed by walking the resource's schema function; hashicorp/terraform-provider-tls
 * `internal/provider/resource_private_key.go` (main, 2026). The stack pins AWS provider 6.x, whose
 * source was not readable here (the repository is over the size this machine may copy): an argument
 * that stopped or started forcing a new resource since 5.14 is not reflected here.
 *
 * How a path reads, as terraform-plugin-sdk v2 diffs it (helper/schema/schema.go `diffList`,
 * v2.40.0): `a` names a top-level argument; `block.attr` an attribute inside a nested block, compared
 * element by element. A ForceNew block itself (`instance_market_options`) replaces only when its
 * number of elements changes: the flag is copied to the element count, not into the block's
 * attributes, which carry their own flags. A ForceNew list or set of plain values replaces on any
 * change of its elements.
 *
 * Left out on purpose, with the reason:
 * - aws_instance `user_data` / `user_data_base64`: ForceNew only with `user_data_replace_on_change`
 *   (CustomizeDiff), which the stack never sets; both are creation-only anyway.
 * - aws_ssm_parameter `tier`: replaces only from Advanced to Standard (CustomizeDiff); the stack
 *   leaves the tier to the provider.
 * - aws_instance `launch_template.version`: forced by CustomizeDiff when the template's version
 *   changes; the stack launches no template.
 */
'use strict';

/** Every ForceNew path of aws_instance (internal/service/ec2/ec2_instance.go, ResourceInstance). */
const INSTANCE = [
  'ami', 'associate_public_ip_address', 'availability_zone', 'cpu_core_count', 'cpu_threads_per_core',
  'ebs_optimized', 'ephemeral_block_device', 'hibernation', 'host_id', 'ipv6_address_count', 'ipv6_addresses',
  'key_name', 'launch_template', 'placement_group', 'placement_partition_number', 'private_dns_name_options',
  'private_ip', 'security_groups', 'subnet_id', 'tenancy',
  'cpu_options.amd_sev_snp', 'cpu_options.core_count', 'cpu_options.threads_per_core',
  'ebs_block_device.delete_on_termination', 'ebs_block_device.device_name', 'ebs_block_device.encrypted',
  'ebs_block_device.iops', 'ebs_block_device.kms_key_id', 'ebs_block_device.snapshot_id',
  'ebs_block_device.throughput', 'ebs_block_device.volume_size', 'ebs_block_device.volume_type',
  'enclave_options.enabled',
  'instance_market_options', 'instance_market_options.market_type', 'instance_market_options.spot_options',
  'instance_market_options.spot_options.instance_interruption_behavior', 'instance_market_options.spot_options.max_price',
  'instance_market_options.spot_options.spot_instance_type', 'instance_market_options.spot_options.valid_until',
  'launch_template.id', 'launch_template.name',
  'network_interface.delete_on_termination', 'network_interface.device_index', 'network_interface.network_card_index',
  'network_interface.network_interface_id',
  // Not volume_size, volume_type, iops, throughput or delete_on_termination: the provider modifies
  // those in place (ModifyVolume, ModifyInstanceAttribute).
  'root_block_device.encrypted', 'root_block_device.kms_key_id',
];

module.exports = {
  // instance_type is not here: the provider changes it in place (stop, ModifyInstanceAttribute,
  // start; resourceInstanceUpdate), and so do vpc_security_group_ids, iam_instance_profile,
  // monitoring, metadata_options, root volume size and type, and user data.
  aws_instance: { source: 'internal/service/ec2/ec2_instance.go', forceNew: INSTANCE },
  // The request's schema is aws_instance's with every top-level argument that is not computed-only
  // made ForceNew, except tags and tags_all, and the request's own arguments added after that loop:
  // spot_type, wait_for_fulfillment and volume_tags without ForceNew, the others with it. Nested
  // attributes keep aws_instance's flags, so a root volume size change plans as an update, which the
  // request's Update ignores (it only writes tags).
  aws_spot_instance_request: {
    source: 'internal/service/ec2/ec2_spot_instance_request.go',
    everyArgumentBut: ['tags', 'tags_all', 'spot_type', 'wait_for_fulfillment', 'volume_tags', 'timeouts'],
    forceNew: INSTANCE.filter((path) => path.includes('.')),
  },
  aws_key_pair: { source: 'internal/service/ec2/ec2_key_pair.go', forceNew: ['key_name', 'key_name_prefix', 'public_key'] },
  aws_ec2_tag: { source: 'internal/service/ec2/tag_gen.go', forceNew: ['resource_id', 'key'] },
  aws_vpc: { source: 'internal/service/ec2/vpc_.go', forceNew: ['cidr_block', 'ipv4_ipam_pool_id', 'ipv4_netmask_length'] },
  aws_subnet: {
    source: 'internal/service/ec2/vpc_subnet.go',
    forceNew: ['availability_zone', 'availability_zone_id', 'cidr_block', 'ipv6_native', 'outpost_arn', 'vpc_id'],
  },
  // vpc_id is not ForceNew: the gateway is detached and attached again.
  aws_internet_gateway: { source: 'internal/service/ec2/vpc_internet_gateway.go', forceNew: [] },
  aws_route_table: { source: 'internal/service/ec2/vpc_route_table.go', forceNew: ['vpc_id'] },
  // The destinations; a target (gateway_id) is changed with ReplaceRoute.
  aws_route: {
    source: 'internal/service/ec2/vpc_route.go',
    forceNew: ['route_table_id', 'destination_cidr_block', 'destination_ipv6_cidr_block', 'destination_prefix_list_id'],
  },
  aws_route_table_association: { source: 'internal/service/ec2/vpc_route_table_association.go', forceNew: ['gateway_id', 'subnet_id'] },
  aws_security_group: { source: 'internal/service/ec2/vpc_security_group.go', forceNew: ['description', 'name', 'name_prefix', 'vpc_id'] },
  aws_default_security_group: { source: 'internal/service/ec2/vpc_default_security_group.go', forceNew: ['vpc_id'] },
  // terraform-plugin-framework: RequiresReplace on security_group_id, and ModifyPlan replaces the
  // rule when its source changes kind ("you cannot change the rule's source type").
  aws_vpc_security_group_ingress_rule: {
    source: 'internal/service/ec2/vpc_security_group_ingress_rule.go (resourceSecurityGroupRule)',
    forceNew: ['security_group_id'],
    whichOneIsSet: ['cidr_ipv4', 'cidr_ipv6', 'prefix_list_id', 'referenced_security_group_id'],
  },
  aws_vpc_security_group_egress_rule: {
    source: 'internal/service/ec2/vpc_security_group_egress_rule.go, on resourceSecurityGroupRule (vpc_security_group_ingress_rule.go)',
    forceNew: ['security_group_id'],
    whichOneIsSet: ['cidr_ipv4', 'cidr_ipv6', 'prefix_list_id', 'referenced_security_group_id'],
  },
  aws_ebs_volume: {
    source: 'internal/service/ec2/ebs_volume.go',
    forceNew: ['availability_zone', 'encrypted', 'kms_key_id', 'multi_attach_enabled', 'outpost_arn', 'snapshot_id'],
  },
  aws_volume_attachment: { source: 'internal/service/ec2/ebs_volume_attachment.go', forceNew: ['device_name', 'instance_id', 'volume_id'] },
  aws_iam_role: { source: 'internal/service/iam/role.go', forceNew: ['name', 'name_prefix', 'path'] },
  aws_iam_instance_profile: { source: 'internal/service/iam/instance_profile.go', forceNew: ['name', 'name_prefix', 'path'] },
  aws_iam_role_policy: { source: 'internal/service/iam/role_policy.go', forceNew: ['name', 'name_prefix', 'role'] },
  aws_iam_role_policy_attachment: { source: 'internal/service/iam/role_policy_attachment.go', forceNew: ['role', 'policy_arn'] },
  aws_iam_service_linked_role: { source: 'internal/service/iam/service_linked_role.go', forceNew: ['aws_service_name', 'custom_suffix'] },
  aws_ssm_parameter: { source: 'internal/service/ssm/parameter.go', forceNew: ['name'] },
  aws_ssm_document: { source: 'internal/service/ssm/document.go', forceNew: ['name'] },
  aws_ssm_association: { source: 'internal/service/ssm/association.go', forceNew: ['instance_id', 'name'] },
  aws_sns_topic: { source: 'internal/service/sns/topic.go', forceNew: ['fifo_topic', 'name', 'name_prefix'] },
  aws_sns_topic_policy: { source: 'internal/service/sns/topic_policy.go', forceNew: ['arn'] },
  aws_sns_topic_subscription: { source: 'internal/service/sns/topic_subscription.go', forceNew: ['endpoint', 'protocol', 'topic_arn'] },
  aws_cloudwatch_metric_alarm: { source: 'internal/service/cloudwatch/metric_alarm.go', forceNew: ['alarm_name'] },
  aws_cloudwatch_composite_alarm: { source: 'internal/service/cloudwatch/composite_alarm.go', forceNew: ['actions_enabled', 'alarm_name'] },
  aws_cloudwatch_event_rule: { source: 'internal/service/events/rule.go', forceNew: ['event_bus_name', 'name', 'name_prefix'] },
  aws_cloudwatch_event_target: { source: 'internal/service/events/target.go', forceNew: ['event_bus_name', 'rule', 'target_id'] },
  // The cluster stack's types. Not read from the provider source (not readable here): from the provider's
  // documentation of what an update does, checked 2026-12-07. A launch template's other arguments make a
  // new version; a placement group has no update but its tags.
  aws_launch_template: { source: 'docs: r/launch_template (changes create a new version)', forceNew: ['name', 'name_prefix'] },
  aws_placement_group: { source: 'docs: r/placement_group', forceNew: ['name', 'partition_count', 'spread_level', 'strategy'] },
  aws_efs_file_system: {
    source: 'docs: r/efs_file_system',
    forceNew: ['availability_zone_name', 'creation_token', 'encrypted', 'kms_key_id', 'performance_mode'],
  },
  aws_efs_mount_target: { source: 'docs: r/efs_mount_target', forceNew: ['file_system_id', 'ip_address', 'subnet_id'] },
  aws_fsx_lustre_file_system: {
    source: 'docs: r/fsx_lustre_file_system',
    forceNew: ['deployment_type', 'drive_cache_type', 'export_path', 'import_path', 'imported_file_chunk_size', 'kms_key_id',
      'per_unit_storage_throughput', 'security_group_ids', 'storage_type', 'subnet_ids'],
  },
  tls_private_key: {
    source: 'hashicorp/terraform-provider-tls internal/provider/resource_private_key.go',
    forceNew: ['algorithm', 'openssh_comment', 'rsa_bits', 'ecdsa_curve'],
  },
};
