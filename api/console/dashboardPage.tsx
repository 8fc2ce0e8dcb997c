import type { DashboardFigures } from '../../db/dashboard.js';
import type { StaffSession } from '../../db/staff.js';
import { formatMoney } from '../../domain/money.js';
import { age, duration, Layout } from './layout.js';

/**
 * The dashboard: the last 30 days as pictures drawn here as SVG (no chart library, no script), each with its
 * numbers in a table beside it for screen readers and for whoever wants them.
 */
const SERIES = [
  { key: 'started', label: 'Started', colour: '#0b57d0' },
  { key: 'completed', label: 'Completed', colour: '#0d652d' },
  { key: 'attention', label: 'Needed attention', colour: '#b3261e' },
] as const;
const SLA = [
  { key: 'ok', label: 'Within SLA', colour: '#0d652d' },
  { key: 'near', label: 'Near the limit', colour: '#a15c00' },
  { key: 'over', label: 'Over the limit', colour: '#b3261e' },
] as const;

const percent = (part: number, whole: number) => (whole > 0 ? `${Math.round((100 * part) / whole)} %` : '—');

export function DashboardPage(props: {
  staff: StaffSession;
  snapshot?: { computedAt: Date; figures: DashboardFigures };
  now: Date;
}) {
  const { snapshot } = props;
  return (
    <Layout title="Dashboard" staff={props.staff} path="/console/dashboard">
      {snapshot ? (
        <div id="dashboard" class="dashboard">
          <p class="hint">
            The last 30 days ({snapshot.figures.timezone}), as of {age(snapshot.computedAt, props.now)} ago;
            the figures are computed again at most once a minute.
          </p>
          <Daily days={snapshot.figures.days} />
          <Outcomes outcomes={snapshot.figures.outcomes} />
          <Stages stages={snapshot.figures.stages} />
          <Sla sla={snapshot.figures.sla} />
          <Unapplied unapplied={snapshot.figures.unapplied} />
        </div>
      ) : (
        <div
          id="dashboard"
          hx-get="/console/dashboard"
          hx-trigger="load delay:2s"
          hx-select="#dashboard"
          hx-swap="outerHTML"
        >
          <p role="status">The figures are being computed; this page fills in when they are ready.</p>
        </div>
      )}
    </Layout>
  );
}

function Daily(props: { days: DashboardFigures['days'] }) {
  const { days } = props;
  const [width, height, left, bottom] = [720, 200, 36, 24];
  const top = Math.max(1, ...days.flatMap((day) => SERIES.map((series) => day[series.key])));
  const x = (index: number) => left + (index * (width - left - 8)) / Math.max(1, days.length - 1);
  const y = (value: number) => height - bottom - (value * (height - bottom - 10)) / top;
  const ticks = [0, Math.floor(days.length / 2), days.length - 1].filter((index) => days[index]);
  return (
    <section aria-labelledby="daily-heading">
      <h2 id="daily-heading">Flows per day</h2>
      <Legend items={SERIES} />
      <svg
        viewBox={`0 0 ${width} ${height}`}
        class="chart"
        role="img"
        aria-label="Flows started, completed and needing attention per day; the numbers are in the table below"
      >
        <line x1={left} y1={y(0)} x2={width - 8} y2={y(0)} stroke="#d5dbe3" />
        <line x1={left} y1={y(top)} x2={width - 8} y2={y(top)} stroke="#eef1f5" />
        <text x={left - 6} y={y(top) + 4} text-anchor="end" class="axis">
          {top}
        </text>
        <text x={left - 6} y={y(0) + 4} text-anchor="end" class="axis">
          0
        </text>
        {ticks.map((index) => (
          <text
            x={x(index)}
            y={height - 6}
            text-anchor={index === 0 ? 'start' : index === days.length - 1 ? 'end' : 'middle'}
            class="axis"
          >
            {days[index]?.day.slice(5)}
          </text>
        ))}
        {SERIES.map((series) => (
          <polyline
            fill="none"
            stroke={series.colour}
            stroke-width="2"
            points={days
              .map((day, index) => `${x(index).toFixed(1)},${y(day[series.key]).toFixed(1)}`)
              .join(' ')}
          />
        ))}
      </svg>
      <details>
        <summary>The numbers</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">Day</th>
              {SERIES.map((series) => (
                <th scope="col">{series.label}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {days.map((day) => (
              <tr data-day={day.day}>
                <th scope="row">{day.day}</th>
                {SERIES.map((series) => (
                  <td data-series={series.key}>{day[series.key]}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </section>
  );
}

/** Labelled horizontal bars, each as long as its share of `max`. */
function Bars(props: { label: string; rows: { name: string; value: number; max: number; text: string }[] }) {
  const [width, row] = [720, 26];
  return (
    <svg
      viewBox={`0 0 ${width} ${Math.max(1, props.rows.length) * row}`}
      class="chart"
      role="img"
      aria-label={props.label}
    >
      {props.rows.map((bar, index) => (
        <g transform={`translate(0 ${index * row})`}>
          <text x="0" y="17" class="axis">
            {bar.name}
          </text>
          <rect
            x="300"
            y="5"
            width={(300 * bar.value) / Math.max(bar.max, 1e-9)}
            height="16"
            fill="#0b57d0"
          />
          <text x="610" y="17" class="axis">
            {bar.text}
          </text>
        </g>
      ))}
    </svg>
  );
}

function Outcomes(props: { outcomes: DashboardFigures['outcomes'] }) {
  return (
    <section aria-labelledby="outcomes-heading">
      <h2 id="outcomes-heading">Success rate per flow type</h2>
      {props.outcomes.length === 0 ? (
        <p>No flow ended in these 30 days.</p>
      ) : (
        <>
          <Bars
            label="Share of ended flows that completed, per flow type"
            rows={props.outcomes.map((outcome) => ({
              name: outcome.flowType,
              value: outcome.completed,
              max: outcome.ended,
              text: `${percent(outcome.completed, outcome.ended)} of ${outcome.ended}`,
            }))}
          />
          <ul class="skip">
            {props.outcomes.map((outcome) => (
              <li data-flow-type={outcome.flowType}>
                {outcome.flowType}: {outcome.completed} of {outcome.ended} completed
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

function Stages(props: { stages: DashboardFigures['stages'] }) {
  const timed = props.stages.filter((stage) => stage.averageSeconds !== null).slice(0, 12);
  const longest = Math.max(0, ...timed.map((stage) => stage.averageSeconds ?? 0));
  return (
    <section aria-labelledby="stages-heading">
      <h2 id="stages-heading">Time per stage (average, the longest first)</h2>
      {timed.length === 0 ? (
        <p>No stage has ended in these 30 days.</p>
      ) : (
        <Bars
          label="Average time per stage"
          rows={timed.map((stage) => ({
            name: stage.stage,
            value: stage.averageSeconds ?? 0,
            max: longest,
            text: duration(stage.averageSeconds ?? 0),
          }))}
        />
      )}
    </section>
  );
}

function Sla(props: { sla: DashboardFigures['sla'] }) {
  const total = SLA.reduce((sum, part) => sum + props.sla[part.key], 0);
  let offset = 0;
  return (
    <section aria-labelledby="sla-heading">
      <h2 id="sla-heading">Stays against their SLA</h2>
      {total === 0 ? (
        <p>No stay had an SLA in these 30 days.</p>
      ) : (
        <>
          <svg
            viewBox="0 0 720 28"
            class="chart"
            role="img"
            aria-label="Shares of stays within, near and over their SLA; the numbers are below"
          >
            {SLA.map((part) => {
              const width = (720 * props.sla[part.key]) / total;
              const rect = <rect x={offset} y="4" width={width} height="20" fill={part.colour} />;
              offset += width;
              return rect;
            })}
          </svg>
          <ul class="legend">
            {SLA.map((part) => (
              <li data-sla={part.key}>
                <Swatch colour={part.colour} /> {part.label}: {props.sla[part.key]} (
                {percent(props.sla[part.key], total)})
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

function Unapplied(props: { unapplied: DashboardFigures['unapplied'] }) {
  return (
    <section aria-labelledby="unapplied-heading">
      <h2 id="unapplied-heading">Unapplied payments</h2>
      {props.unapplied.length === 0 ? (
        <p>None: every payment received is applied.</p>
      ) : (
        <ul>
          {props.unapplied.map((money) => (
            <li data-currency={money.currency}>
              {money.count} {money.count === 1 ? 'payment' : 'payments'},{' '}
              {formatMoney(money.amount, money.currency)}
            </li>
          ))}
          <li>
            <a href="/console/needs-me?kind=unapplied_payment">Apply or refund them</a>
          </li>
        </ul>
      )}
    </section>
  );
}

function Legend(props: { items: readonly { label: string; colour: string }[] }) {
  return (
    <ul class="legend">
      {props.items.map((item) => (
        <li>
          <Swatch colour={item.colour} /> {item.label}
        </li>
      ))}
    </ul>
  );
}

function Swatch(props: { colour: string }) {
  return (
    <svg width="12" height="12" aria-hidden="true">
      <rect width="12" height="12" fill={props.colour} />
    </svg>
  );
}
