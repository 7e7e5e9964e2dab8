import { describe, expect, it } from 'vitest';
import { byClass, parseXml, visibleText } from './xml.js';

// The chart tests lean on this reader to reject broken SVG, so it must itself reject broken XML.
describe('the test XML reader', () => {
  it('reads nested elements, attributes and decoded entities', () => {
    const root = parseXml(
      '<?xml version="1.0"?>\n<svg a="1 &amp; 2"><g class="x y"><text>a &lt;b&gt;</text></g></svg>',
    );
    expect(root.name).toBe('svg');
    expect(root.attrs.get('a')).toBe('1 & 2');
    expect(byClass(root, 'y').map(visibleText)).toEqual(['a <b>']);
  });

  it.each([
    ['an unclosed element', '<svg><g></svg>'],
    ['crossed tags', '<svg><g><text></g></text></svg>'],
    ['a raw < in text', '<svg><text>a < b</text></svg>'],
    ['a bare & in text', '<svg><text>a & b</text></svg>'],
    ['a bare & in an attribute', '<svg a="x & y"/>'],
    ['a raw < in an attribute', '<svg a="x < y"/>'],
    ['an unquoted attribute', '<svg a=1/>'],
    ['a duplicate attribute', '<svg a="1" a="2"/>'],
    ['two root elements', '<svg/><svg/>'],
    ['an unknown entity', '<svg><text>&nbsp;</text></svg>'],
  ])('rejects %s', (_, source) => {
    expect(() => parseXml(source)).toThrow();
  });
});
