// Writes the cluster's configuration files from src/cluster/slurm.ts for the bats tests, as the stack will:
//   ts-node render.ts FILE slurm|cluster PROPS-JSON [FILE slurm|cluster PROPS-JSON ...]
import { writeFileSync } from 'node:fs';
import { renderClusterConf, renderSlurmConf } from '../../src/cluster/slurm';

const args = process.argv.slice(2);
for (let i = 0; i < args.length; i += 3) {
  const [file, kind, json] = args.slice(i, i + 3);
  const props = JSON.parse(json);
  writeFileSync(file, kind === 'slurm' ? renderSlurmConf(props) : renderClusterConf(props));
}
