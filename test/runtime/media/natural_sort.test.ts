import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { naturalCompare } from '../../../runtime/media/frame_folder.ts';
import { frameFileName } from '../../../runtime/media/frame_folder.ts';

describe('naturalCompare', () => {
  it('orders numbered names by number', () => {
    const names = ['frame_10.png', 'frame_9.png', 'frame_1.png', 'frame_100.png', 'frame_0.png', 'frame_11.png'];
    expect([...names].sort(naturalCompare)).toEqual(['frame_0.png', 'frame_1.png', 'frame_9.png', 'frame_10.png', 'frame_11.png', 'frame_100.png']);
  });

  it('handles zero padding, prefixes and numbers too long for a double', () => {
    expect(['b2', 'a10', 'a2', 'a02'].sort(naturalCompare)).toEqual(['a02', 'a2', 'a10', 'b2']);
    expect(naturalCompare('x99999999999999999999', 'x100000000000000000000')).toBeLessThan(0);
    expect(naturalCompare('same', 'same')).toBe(0);
  });

  it('sorts any shuffled numbered sequence back into numeric order', () => {
    fc.assert(fc.property(fc.shuffledSubarray(Array.from({ length: 300 }, (_, i) => i)), fc.boolean(), (numbers, padded) => {
      const name = (i: number) => `shot-${padded ? String(i).padStart(4, '0') : i}.jpg`;
      const sorted = numbers.map(name).sort(naturalCompare);
      expect(sorted).toEqual([...numbers].sort((a, b) => a - b).map(name));
    }), { numRuns: 50 });
  });
});

describe('frameFileName', () => {
  it('pads to five digits, more when needed', () => {
    expect(frameFileName(7, 9)).toBe('frame_00007.png');
    expect(frameFileName(12, 123_456)).toBe('frame_000012.png');
  });
});
