# `terraform test` for the synthesized stack, market "spot": mock providers, no AWS account needed.
#   cd cdktf.out/stacks/trainium-spot && terraform init && terraform test

mock_provider "aws" {
  source = "./tests/mocks"
}

mock_provider "tls" {}

run "plans_with_enough_quota" {
  command = plan

  assert {
    condition     = output.market == "spot"
    error_message = "The market output is not spot."
  }

  assert {
    condition     = alltrue([for box in TRAINIUM_SPOT_SPOT_BOXES : box.root_block_device[0].volume_size >= 45])
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
    target = data.aws_servicequotas_service_quota.quota-guard_spot-vcpus_999FA1F7
    values = {
      value = 0
    }
  }

  expect_failures = [TRAINIUM_SPOT_SPOT_BOXES]
}
