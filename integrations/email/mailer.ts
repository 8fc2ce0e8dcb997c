import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { PRIVATE_FILE, privateDir } from '../../runtime/privateFiles.js';

export interface OutgoingEmail {
  from: string;
  to: string;
  subject: string;
  text: string;
  html?: string;
  /** Derived from the idempotency key, so a receiving system can tell a repeated delivery apart. */
  messageId: string;
  attachments?: { filename: string; content: Buffer; contentType: string }[];
}

export interface Mailer {
  send(email: OutgoingEmail): Promise<void>;
}

/** SMTP when SMTP_URL is set; otherwise each message becomes an .eml file in the outbox folder. */
export function createMailer(options: { smtpUrl?: string; outboxDir: string }): Mailer {
  if (options.smtpUrl) {
    const transport = nodemailer.createTransport(options.smtpUrl);
    return {
      async send(email) {
        await transport.sendMail(email);
      },
    };
  }
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    async send(email) {
      const { message } = await transport.sendMail(email);
      await privateDir(options.outboxDir);
      const name = email.messageId.replace(/[<>]/g, '').replace(/[^\w.@-]/g, '_');
      await writeFile(path.join(options.outboxDir, `${name}.eml`), message as Buffer, { mode: PRIVATE_FILE });
    },
  };
}
