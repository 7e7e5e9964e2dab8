// An order-ingestion transform: validate, normalise, enrich with a hashed customer id, drop test orders.
import { createHash } from 'node:crypto';

export function validate(event) {
  const order = event.payload;
  if (typeof order.customer !== 'string' || order.customer === '') return 'customer missing';
  if (!Array.isArray(order.items) || order.items.length === 0) return 'no items';
  return true;
}

export default function transform(event) {
  const order = event.payload;
  if (order.test === true) return null;
  const total = order.items.reduce((sum, item) => sum + item.price * item.qty, 0);
  return {
    key: order.customer,
    payload: {
      orderId: order.orderId,
      customer: createHash('sha256').update(order.customer.toLowerCase()).digest('hex'),
      country: String(order.country ?? 'unknown').toUpperCase(),
      items: order.items.length,
      total: Math.round(total * 100) / 100,
    },
  };
}
