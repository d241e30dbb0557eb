# shellcheck shell=sh
# trainium-spot compute node: the libfabric settings Neuron's collectives use between nodes over EFA, for login
# shells and batch scripts run by `bash -l`. Jobs submitted with `trainium-spot cluster submit` set them in their
# own script too; the one per-job value, NEURON_RT_ROOT_COMM_ID (the first node and a port), only a job knows.
# Values: AWS Neuron's multi-node training scripts (FI_PROVIDER=efa, FI_EFA_USE_DEVICE_RDMA=1, FI_EFA_FORK_SAFE=1),
# checked 2026-12-07. A value already set is kept.
export FI_PROVIDER="${FI_PROVIDER:-efa}"
export FI_EFA_USE_DEVICE_RDMA="${FI_EFA_USE_DEVICE_RDMA:-1}"
export FI_EFA_FORK_SAFE="${FI_EFA_FORK_SAFE:-1}"
