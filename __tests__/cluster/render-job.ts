// Writes the batch script `cluster submit` writes, from src/cli/sbatch.ts, for the real-Slurm tests:
//   ts-node render-job.ts FILE NODES PROCESSES_PER_NODE COMMAND...
// prints the job's name (as `cluster submit` names it) on stdout.
import { writeFileSync } from 'node:fs';
import { jobNameOf, renderSbatch } from '../../src/cli/sbatch';

const [file, nodes, processesPerNode, ...command] = process.argv.slice(2);
const name = jobNameOf(command);
writeFileSync(file, renderSbatch({ name, nodes: Number(nodes), command, processesPerNode: Number(processesPerNode) }));
process.stdout.write(`${name}\n`);
