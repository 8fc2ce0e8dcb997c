import type { Page } from 'playwright-core';

/**
 * What staff do once in the Temporal UI's codec settings, as the README says: this browser's own endpoint, with
 * cross-origin credentials, so the UI sends the /codec/session cookie. (The dev server can set the endpoint for
 * everyone, but not the credentials.) Keyboard, as the top bar covers the settings panel's lower half.
 */
export async function useCodecEndpointWithCredentials(page: Page, endpoint: string): Promise<void> {
  await page.locator('[data-testid^="data-encoder-status"]').first().click();
  await page.getByRole('button', { name: 'Use Cluster-level setting,' }).click();
  await page.getByLabel('Use my browser setting and ignore Cluster-level setting.').check();
  await page.getByTestId('data-encoder-endpoint-input').fill(endpoint);
  await page.locator('#pass-access-credentials').focus();
  await page.keyboard.press('Space');
  await page.getByTestId('confirm-data-encoder-button').focus();
  await page.keyboard.press('Enter');
}

/** Signs this browser in for decoded payloads, as a person does on Flowdesk's page. */
export async function signInForDecoding(page: Page, apiUrl: string, key: string): Promise<string> {
  await page.goto(`${apiUrl}/codec/session`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // biome-ignore lint/performance/useDomNodeTextContent: what the page shows a person, not its hidden nodes
  return page.locator('body').innerText();
}

/**
 * The text of a workflow's page in the UI once its payloads have been through the codec (or failed to), and, when
 * `showing` is given, once that text is on the page (the UI renders decoded payloads a moment after their answer
 * comes, later under load), or after 10 s without it.
 */
export async function workflowPageText(page: Page, url: string, showing?: string): Promise<string> {
  const decodeCalls: Promise<unknown>[] = [];
  const onRequest = (request: { url(): string; response(): Promise<unknown> }) => {
    if (request.url().endsWith('/codec/decode')) decodeCalls.push(request.response().catch(() => undefined));
  };
  page.on('request', onRequest);
  try {
    await page.goto(url);
    await page.getByTestId('workflow-id-heading').waitFor();
    await page.waitForLoadState('networkidle');
    await Promise.all(decodeCalls);
    if (showing)
      await page
        .getByText(showing)
        .first()
        .waitFor({ timeout: 10_000 })
        .catch(() => undefined);
    // biome-ignore lint/performance/useDomNodeTextContent: what the page shows a person, not its hidden nodes
    return await page.locator('body').innerText();
  } finally {
    page.off('request', onRequest);
  }
}
