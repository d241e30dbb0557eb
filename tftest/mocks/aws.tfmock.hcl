# What the AWS data sources answer in `terraform test` (mock_provider "aws" { source = "./tests/mocks" }).
# Quotas are roomy; a run block overrides them to see the plan fail. The AMI's root snapshot is 45 GiB;
# the app writes the name the configured image preset expects in place of TRAINIUM_SPOT_AMI_NAME.

mock_data "aws_servicequotas_service_quota" {
  defaults = {
    value = 100000
  }
}

mock_data "aws_ssm_parameter" {
  defaults = {
    value          = "ami-0123456789abcdef0"
    insecure_value = "ami-0123456789abcdef0"
  }
}

mock_data "aws_ami" {
  defaults = {
    id               = "ami-0123456789abcdef0"
    name             = "TRAINIUM_SPOT_AMI_NAME"
    architecture     = "x86_64"
    root_device_name = "/dev/sda1"
    block_device_mappings = [
      { device_name = "/dev/sda1", ebs = { volume_size = "45", volume_type = "gp3" }, no_device = "", virtual_name = "" },
    ]
  }
}

mock_data "aws_partition" {
  defaults = {
    partition = "aws"
  }
}

mock_data "aws_iam_policy_document" {
  defaults = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
  }
}

mock_data "aws_subnet" {
  defaults = {
    availability_zone    = "us-east-2c"
    availability_zone_id = "use2-az3"
  }
}
