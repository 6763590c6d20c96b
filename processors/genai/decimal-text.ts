/**
 * A reported amount as plain decimal text (`"0.000435"`, never `"4.35e-4"`), or null when the text is not
 * a finite non-negative number. Kept as text so it can be compared exactly in SQL (CAST AS DECIMAL) and is
 * never summed as a binary float here.
 */
export function decimalText(raw: string): string | null {
  const match = /^\+?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(raw.trim());
  if (match === null) return null;
  const intPart = match[1] ?? '';
  const fracPart = match[2] ?? '';
  if (intPart === '' && fracPart === '') return null;
  const exponent = match[3] === undefined ? 0 : Number(match[3]);
  if (!Number.isSafeInteger(exponent) || Math.abs(exponent) > 400) return null;
  // All digits, with the decimal point after `point` of them.
  const digits = intPart + fracPart;
  let point = intPart.length + exponent;
  let text: string;
  if (point <= 0) text = '0.' + '0'.repeat(-point) + digits;
  else if (point >= digits.length) text = digits + '0'.repeat(point - digits.length);
  else text = digits.slice(0, point) + '.' + digits.slice(point);
  point = text.indexOf('.');
  // Canonical form: no leading zeros in the integer part, no trailing zeros in the fraction.
  let integer = (point === -1 ? text : text.slice(0, point)).replace(/^0+(?=\d)/, '');
  if (integer === '') integer = '0';
  const fraction = point === -1 ? '' : text.slice(point + 1).replace(/0+$/, '');
  return fraction === '' ? integer : `${integer}.${fraction}`;
}
