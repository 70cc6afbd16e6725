import { describe, expect, it } from 'vitest';
import { formatTable } from '../../src/cli/table.js';

describe('formatTable', () => {
  it('right-aligns quantities, even when formatted with units, and left-aligns names', () => {
    const t = formatTable(['SELF', 'SELF%', 'FUNCTION'], [['12.50s', '95.00%', 'main'], ['0.40s', '5.00%', 'gc']]);
    expect(t.split('\n')).toEqual(['  SELF   SELF%  FUNCTION', '12.50s  95.00%  main', ' 0.40s   5.00%  gc']);
  });
});
