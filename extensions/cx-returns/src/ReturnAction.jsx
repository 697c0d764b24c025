import '@shopify/ui-extensions/preact';
import {render} from 'preact';
import {useEffect, useState} from 'preact/hooks';

import {loadReturns, requestReturn} from './backend.js';

export default async () => {
  render(<ReturnAction />, document.body);
};

/** The return request in one step: lines and quantities, a reason from the shop's definitions, a note. */
function ReturnAction() {
  const orderId = shopify.orderId;
  const t = (key) => shopify.i18n.translate(key);
  const [answer, setAnswer] = useState(null);
  const [chosen, setChosen] = useState({});
  const [reason, setReason] = useState('');
  const [note, setNote] = useState('');
  const [message, setMessage] = useState('');
  const [sending, setSending] = useState(false);

  useEffect(() => {
    loadReturns(orderId).then((result) => {
      if (!result.ok) return setMessage(result.data.error || t('failed'));
      setAnswer(result.data);
      setReason(result.data.reasons?.[0]?.id || '');
    }, () => setMessage(t('failed')));
  }, [orderId]);

  const eligible = (answer?.lines || []).filter((line) => line.status === 'eligible');

  async function send() {
    const lines = eligible
      .filter((line) => (chosen[line.line_item_id] || 0) > 0)
      .map((line) => ({line_item_id: line.line_item_id, quantity: chosen[line.line_item_id], reason_id: reason,
                       note}));
    if (!lines.length || sending) return;
    setSending(true);  // one click, one request (and the backend makes a repeat the same request)
    try {
      const result = await requestReturn(orderId, lines);
      setMessage(result.ok ? t('sent') : result.data.error || t('failed'));
      if (result.ok) setAnswer({...answer, lines: []});
    } catch (error) {
      setMessage(t('failed'));
    } finally {
      setSending(false);
    }
  }

  return (
    <s-customer-account-action heading={t('request')}>
      <s-stack direction="block" gap="base">
        {message && <s-text>{message}</s-text>}
        {answer && !eligible.length && !message && <s-text>{t('nothing')}</s-text>}
        {eligible.map((line) => (
          <s-number-field
            key={line.line_item_id}
            label={`${line.title} — ${line.text}`}
            min={0}
            max={line.returnable_quantity}
            value={String(chosen[line.line_item_id] || 0)}
            onChange={(event) => setChosen({...chosen, [line.line_item_id]: Number(event.currentTarget.value)})}
          />
        ))}
        {eligible.length > 0 && (
          <s-select label={t('reason')} value={reason} onChange={(event) => setReason(event.currentTarget.value)}>
            {(answer.reasons || []).map((r) => (
              <s-option key={r.id} value={r.id}>{r.name}</s-option>
            ))}
          </s-select>
        )}
        {eligible.length > 0 && (
          <s-text-area label={t('note')} maxLength={300} value={note}
                       onChange={(event) => setNote(event.currentTarget.value)} />
        )}
      </s-stack>
      <s-button slot="primary-action" loading={sending} disabled={sending} onClick={send}>
        {t('send')}
      </s-button>
    </s-customer-account-action>
  );
}
