import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { apiClient, type TestTenant } from './api.js';

export const PASSWORD = 'correct horse battery staple';

/** A console visitor over plain HTTP: keeps its cookies, and reads the CSRF token of the last page it got. */
export function visitor(baseUrl: string) {
  const cookies = new Map<string, string>();
  let csrf = '';
  async function go(method: 'GET' | 'POST', path: string, form?: Record<string, string>) {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      redirect: 'manual',
      headers: {
        cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; '),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    for (const header of response.headers.getSetCookie()) {
      const [pair] = header.split(';');
      const [name, value] = (pair ?? '').split('=');
      if (name) cookies.set(name, value ?? '');
    }
    const text = await response.text();
    csrf = /name="_csrf" value="([^"]+)"/.exec(text)?.[1] ?? csrf;
    return {
      status: response.status,
      text,
      location: response.headers.get('location'),
      headers: response.headers,
    };
  }
  return { go, cookies, csrf: () => csrf };
}

/** An account invited by an admin of `who`, with its password set through the invitation page. */
export async function account(
  baseUrl: string,
  who: TestTenant,
  roles: string[],
  subject: { architectId?: string; crewId?: string } = {},
) {
  const email = `${roles[0]}-${Date.now()}-${Math.random().toString(36).slice(2, 6)}@${who.slug}.example`;
  const admin = apiClient(baseUrl, await who.key(['admin']));
  const invited = await admin.post('/v1/staff', { email, name: `${roles[0]} person`, roles, ...subject });
  expect(invited.status, invited.text).toBe(201);
  const person = visitor(baseUrl);
  const path = new URL(invited.body.inviteUrl).pathname;
  expect((await person.go('GET', path)).status).toBe(200);
  const set = await person.go('POST', path, { _csrf: person.csrf(), password: PASSWORD });
  expect(set.status).toBe(303);
  return { email, person };
}

/** A visitor signed in as `email`, holding the CSRF token of its first page. */
export async function signedIn(baseUrl: string, email: string, firstPage = '/console/needs-me') {
  const person = visitor(baseUrl);
  await person.go('GET', '/console/sign-in');
  const answer = await person.go('POST', '/console/sign-in', {
    _csrf: person.csrf(),
    email,
    password: PASSWORD,
  });
  expect(answer.status).toBe(303);
  await person.go('GET', firstPage);
  return person;
}

/** Opens `url` in the browser, which asks to sign in first, and signs in as `email`. */
export async function signInInBrowser(page: Page, url: string, email: string) {
  await page.goto(url);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((landed) => landed.pathname === new URL(url).pathname);
}
