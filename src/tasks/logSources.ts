import { inlineLogOf, listLogFiles, openLog } from './logFiles.js';
import type { TaskRow } from './types.js';
import { loadIndex } from './logIndex.js';
import type { Source } from './logCollect.js';

export interface OpenSources {
  readonly list: Source[];
  close(): Promise<void>;
}

/**
 * A task's log files, open and indexed, in reading order; the caller closes them. A task that ran
 * more than once gets an "Attempt K" line before each attempt's own lines.
 */
export async function collectSources(taskLogs: string, task: Pick<TaskRow, 'id' | 'attempt' | 'inlineLog'>): Promise<OpenSources> {
  const taskId = task.id;
  const files = await listLogFiles(taskLogs, taskId, inlineLogOf(task));
  const attempts = files.filter((f) => f.kind === 'attempt').length;
  const list: Source[] = [];
  const close = async () => { await Promise.all(list.map((s) => s.fh.close().catch(() => undefined))); };
  try {
    for (const file of files) {
      const fh = await openLog(file);
      if (!fh) continue; // removed meanwhile (retention)
      try {
        const index = await loadIndex(fh, file, taskId);
        const preamble = attempts > 1 && file.kind === 'attempt'
          ? { Category: 'Info' as const, OccurredAt: index.firstTime ?? new Date(0).toISOString(), MessageText: `Attempt ${file.attempt}`, Detail: null }
          : undefined;
        list.push({ fh, index, preamble });
      } catch (err) {
        await fh.close().catch(() => undefined);
        throw err;
      }
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { list, close };
}
