import '@shopify/ui-extensions/preact';
import {render} from 'preact';

export default async () => {
  render(<ReturnMenuItem />, document.body);
};

/** The order action menu entry that opens the return request (customer-account.order.action.render). */
function ReturnMenuItem() {
  return <s-button>{shopify.i18n.translate('request')}</s-button>;
}
