import { stdio } from '../shared.js';

/** What to do after a cluster was created, printed by `setup` and by its wizard alike. */
export function printNextSteps(home: string, masterKey: string): void {
  stdio.line(`Master key (needed by every other node; \`cuttle show-master-key --home ${home}\` prints it again):`);
  stdio.line(`  ${masterKey}`);
  stdio.line('Next:');
  stdio.line(`  cuttle path --home ${home} --cluster-shared /mnt/cuttle-shared   # shared storage for the whole cluster`);
  stdio.line(`  cuttle run --home ${home}`);
  stdio.line('Add nodes with: cuttle join --home DIR --database URL --master-key KEY [--node-name NAME]');
}
