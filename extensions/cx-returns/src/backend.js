// The app's returns backend, called with the customer account session token (the backend verifies it and takes
// the shop and the customer from it, never from what the extension sends).
const APP_URL = 'https://cx.example.com';

/** "gid://shopify/Order/123" → "123" */
export function numericId(gid) {
  return String(gid || '').split('/').pop();
}

async function call(method, orderGid, body) {
  const token = await shopify.sessionToken.get();
  const locale = shopify.localization?.language?.value?.isoCode || 'en';
  const url = `${APP_URL}/api/customer/orders/${numericId(orderGid)}/returns?locale=${encodeURIComponent(locale)}`;
  const response = await fetch(url, {
    method,
    headers: {Authorization: `Bearer ${token}`, 'Content-Type': 'application/json'},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await response.json().catch(() => ({}));
  return {ok: response.ok, status: response.status, data};
}

/** Each line's eligibility and last day, and the shop's return reasons. */
export const loadReturns = (orderGid) => call('GET', orderGid);

/** One return request: [{line_item_id, quantity, reason_id, note}]. A double submit is one request. */
export const requestReturn = (orderGid, lines) => call('POST', orderGid, {lines});
