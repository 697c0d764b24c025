import '@shopify/ui-extensions/preact';
import {render} from 'preact';
import {useEffect, useState} from 'preact/hooks';

import {loadReturns} from './backend.js';

export default async () => {
  render(<OrderStatusBlock />, document.body);
};

/** Under the order: each line's return deadline ("You can return this order until …") or "Final sale". */
function OrderStatusBlock() {
  const [answer, setAnswer] = useState(null);
  const orderId = shopify.order?.value?.id;

  useEffect(() => {
    if (orderId) loadReturns(orderId).then((result) => setAnswer(result.ok ? result.data : null));
  }, [orderId]);

  const lines = (answer?.lines || []).filter((line) => line.text);
  if (!lines.length) return null;
  return (
    <s-section heading={shopify.i18n.translate('heading')}>
      <s-stack direction="block" gap="small-200">
        {lines.map((line) => (
          <s-text key={line.line_item_id}>
            {line.title}: {line.text}
          </s-text>
        ))}
      </s-stack>
    </s-section>
  );
}
