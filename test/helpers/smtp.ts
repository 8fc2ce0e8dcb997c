import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface CapturedEmail {
  envelope: { from: string; to: string[] };
  raw: string;
  parsed: ParsedMail;
  /**
   * The server answered "250 accepted": from then on it owes the message its delivery, whether or not the client
   * lived to read the answer. Until then (replies held) the message is complete but not yet taken.
   */
  acknowledged: boolean;
}

export interface SmtpSink {
  port: number;
  /** smtp://127.0.0.1:<port>, for SMTP_URL. */
  url: string;
  messages: CapturedEmail[];
  waitFor(predicate: (email: CapturedEmail) => boolean, timeoutMs?: number): Promise<CapturedEmail>;
  /** Refuse every message with a 451 until `accept()` (an SMTP server that is up but failing). */
  reject(): void;
  accept(): void;
  /**
   * Keep each message but hold back the server's final "250 accepted" until `releaseReplies()`: the moment in
   * which a client that dies cannot know the message arrived.
   */
  holdReplies(): void;
  releaseReplies(): void;
  stop(): Promise<void>;
}

/** A real SMTP server in the test process that keeps every message it accepts. */
export async function startSmtpSink(): Promise<SmtpSink> {
  const messages: CapturedEmail[] = [];
  const waiters = new Set<() => void>();
  let rejecting = false;
  let holding = false;
  const held: (() => void)[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (rejecting) {
          callback(Object.assign(new Error('mailbox temporarily unavailable'), { responseCode: 451 }));
          return;
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        simpleParser(raw).then(
          (parsed) => {
            const message: CapturedEmail = {
              envelope: {
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                to: session.envelope.rcptTo.map((r) => r.address),
              },
              raw,
              parsed,
              acknowledged: false,
            };
            messages.push(message);
            for (const wake of waiters) wake();
            const acknowledge = () => {
              message.acknowledged = true;
              callback();
            };
            if (holding) held.push(acknowledge);
            else acknowledge();
          },
          (error: Error) => callback(error),
        );
      });
    },
  });
  // A client that dies mid-conversation (a killed worker) resets its connection; a mail server notes it and goes on.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    waitFor(predicate, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.find(predicate);
          if (!found) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching email within ${timeoutMs} ms (${messages.length} received)`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    reject: () => {
      rejecting = true;
    },
    accept: () => {
      rejecting = false;
    },
    holdReplies: () => {
      holding = true;
    },
    releaseReplies: () => {
      holding = false;
      for (const reply of held.splice(0)) reply();
    },
    stop: () => {
      for (const reply of held.splice(0)) reply();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
