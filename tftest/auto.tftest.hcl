# `terraform test` for the synthesized stack, market "auto": mock providers, no AWS account needed.
#   cd cdktf.out/stacks/trainium-spot && terraform init && terraform test

mock_provider "aws" {
  source = "./tests/mocks"
}

mock_provider "tls" {}

run "spot_when_its_quota_holds_the_boxes" {
  command = plan

  assert {
    condition     = output.market == "spot" && length(TRAINIUM_SPOT_SPOT_BOXES) > 0 && length(aws_instance.on-demand_instance_AF1F0A7D) == 0
    error_message = "With both quotas roomy, auto must launch spot boxes only."
  }
}

run "on_demand_when_only_its_quota_holds_the_boxes" {
  command = plan

  override_data {
    target = data.aws_servicequotas_service_quota.quota-guard_spot-vcpus_999FA1F7
    values = {
      value = 0
    }
  }

  assert {
    condition     = output.market == "on-demand" && length(TRAINIUM_SPOT_SPOT_BOXES) == 0 && length(aws_instance.on-demand_instance_AF1F0A7D) > 0
    error_message = "With no spot quota, auto must launch on-demand boxes only."
  }
}

run "neither_quota_fails_the_plan" {
  command = plan

  override_data {
    target = data.aws_servicequotas_service_quota.quota-guard_spot-vcpus_999FA1F7
    values = {
      value = 0
    }
  }

  override_data {
    target = data.aws_servicequotas_service_quota.quota-guard_on-demand-vcpus_03FFBD3C
    values = {
      value = 0
    }
  }

  expect_failures = [terraform_data.market-decision_guard_B512C3DD]
}
