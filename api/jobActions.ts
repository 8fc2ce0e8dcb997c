import { completeInstallation, type JobReport, reportProblem, startInstallation } from '../db/projects.js';
import type { Actor } from '../domain/flow.js';
import { projectNews } from '../domain/leadToInstall.js';
import type { ApiDeps } from './context.js';
import { signalIfRunning } from './routes/shared.js';

/**
 * What a crew does on an installation job, from its API key or the console: start it, complete it with its
 * checklist and notes, report a problem. Each is recorded on the project, then its flow hears the news (again for
 * an action recorded before, so a lost signal is made good).
 */
export type JobAction =
  | { kind: 'start' }
  | { kind: 'complete'; checklist: Record<string, boolean>; notes?: string }
  | { kind: 'problem'; description: string };

const NEWS = { start: 'jobStarted', complete: 'jobCompleted', problem: 'problemReported' } as const;

export async function actOnJob(
  deps: Pick<ApiDeps, 'db' | 'temporal'>,
  who: { tenantId: string; crewId: string | null; actor: Actor },
  projectKey: string,
  action: JobAction,
): Promise<JobReport> {
  const job = { ...who, projectKey };
  const report =
    action.kind === 'start'
      ? await startInstallation(deps.db, job)
      : action.kind === 'complete'
        ? await completeInstallation(deps.db, { ...job, checklist: action.checklist, notes: action.notes })
        : await reportProblem(deps.db, { ...job, description: action.description });
  if (report.result === 'recorded' || report.result === 'already')
    await signalIfRunning(deps, report.flowId, projectNews, { kind: NEWS[action.kind] });
  return report;
}
