# `terraform test` for the synthesized stack, markets "on-demand" and "capacity-reservation": mock providers, no AWS account needed.
#   cd cdktf.out/stacks/trainium-spot && terraform init && terraform test

mock_provider "aws" {
  source = "./tests/mocks"
}

mock_provider "tls" {}

run "plans_with_enough_quota" {
  command = plan

  assert {
    condition     = contains(["on-demand", "capacity-reservation"], output.market)
    error_message = "The market output is not on-demand or capacity-reservation."
  }

  assert {
    condition     = alltrue([for box in aws_instance.on-demand_instance_AF1F0A7D : box.root_block_device[0].volume_size >= 45])
    error_message = "The root volume must hold the AMI's 45 GiB root snapshot."
  }
}

run "an_ami_without_a_root_mapping_still_plans" {
  command = plan

  override_data {
    target = data.aws_ami.machine-image_D3C101AF
    values = {
      name                  = "TRAINIUM_SPOT_AMI_NAME"
      architecture          = "x86_64"
      root_device_name      = "/dev/sda1"
      block_device_mappings = []
    }
  }
}

run "a_quota_too_small_fails_the_plan" {
  command = plan

  override_data {
    target = data.aws_servicequotas_service_quota.quota-guard_on-demand-vcpus_03FFBD3C
    values = {
      value = 0
    }
  }

  expect_failures = [aws_instance.on-demand_instance_AF1F0A7D]
}
