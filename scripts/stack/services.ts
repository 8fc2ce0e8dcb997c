import { fileURLToPath } from 'node:url';

/** How to run Flowdesk's API or worker as a process: the compiled entry after `npm run build`, else the source. */
export function serviceCommand(service: 'api' | 'worker'): string[] {
  const compiled = import.meta.url.endsWith('.js');
  const entry = fileURLToPath(new URL(`../../${service}/main.${compiled ? 'js' : 'ts'}`, import.meta.url));
  return compiled ? [entry] : ['--import', 'tsx', entry];
}
