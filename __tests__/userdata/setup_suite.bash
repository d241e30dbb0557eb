# shellcheck shell=bash
# Once per bats run, before any test: the default stack is synthesized as `npm run synth` does, and what a
# box gets from it is put in $TS_AGENT_ROOT: the agent, installed by running the SSM document's own
# command (TRAINIUM_SPOT_ROOT mode), and the boot script, as cloud-init writes it from the user data.
# The tests run those installed files, the artifact, not the copies in src/userdata.

setup_suite() {
  local repo bin
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  export TS_REPO_ROOT=$repo
  export TS_SYNTH_DIR=$BATS_RUN_TMPDIR/synth
  export TS_STACK_JSON=$TS_SYNTH_DIR/stacks/trainium-spot/cdk.tf.json
  export TS_AGENT_ROOT=$BATS_RUN_TMPDIR/agent-root
  # The units' PATH on the box has an AWS CLI; here a stand-in that answers --version.
  bin=$BATS_RUN_TMPDIR/service-bin
  mkdir -p "$TS_AGENT_ROOT" "$bin"
  printf '#!/bin/sh\necho "aws-cli/2.22.0 Python/3.12.6 Linux (stand-in)"\n' >"$bin/aws"
  chmod +x "$bin/aws"
  export TS_SERVICE_PATH=$bin
  # The partition and account Terraform reads at plan time (aws_partition, aws_caller_identity): the association
  # passes the box its instances' ARN up to the id, and the alarms in fixtures/backstop.conf watch the same ARN.
  export TS_PARTITION=aws TS_ACCOUNT=123456789012
  export TS_PARAMETER_instanceArnPrefix=arn:$TS_PARTITION:ec2:us-east-2:$TS_ACCOUNT:instance/

  (cd "$repo" && env -u TRAINIUM_SPOT_CONFIG CDKTF_OUTDIR="$TS_SYNTH_DIR" node scripts/app.mjs) >"$BATS_RUN_TMPDIR/synth.log" 2>&1 ||
    { cat "$BATS_RUN_TMPDIR/synth.log" >&2; return 1; }
  node "$repo/__tests__/support/agent-root.mjs" "$TS_STACK_JSON" "$TS_AGENT_ROOT" >"$BATS_RUN_TMPDIR/agent-install.log" 2>&1 ||
    { cat "$BATS_RUN_TMPDIR/agent-install.log" >&2; return 1; }
  node "$repo/__tests__/support/agent-root.mjs" "$TS_STACK_JSON" --user-data-file /usr/local/sbin/trainium-spot-require-imdsv2 \
    >"$TS_AGENT_ROOT/usr/local/sbin/trainium-spot-require-imdsv2"
  chmod 0755 "$TS_AGENT_ROOT/usr/local/sbin/trainium-spot-require-imdsv2"
}
