// The small pieces the workflow runner stands on: shell words as bash splits them, `${{ … }}` as GitHub evaluates it.
import { describe, expect, it } from 'vitest';
import { evaluate } from '../src/load-workflow.js';
import { shellWords } from '../src/shell-words.js';

describe('shellWords', () => {
  const env = { APP: 'web', IMAGE: 'ghcr.io/acme/web:1', SPACED: 'a b', EMPTY: '' };

  it('splits on whitespace, keeps quoted spaces, expands variables like bash', () => {
    expect(shellWords('cynchro deploy "$APP" --image "${IMAGE}" --port 8080 --wait', env)).toEqual(['cynchro', 'deploy', 'web', '--image', 'ghcr.io/acme/web:1', '--port', '8080', '--wait']);
    expect(shellWords(`echo 'single $APP' "double $SPACED" pre$APP`, env)).toEqual(['echo', 'single $APP', 'double a b', 'preweb']);
    expect(shellWords('cynchro deploy \\\n  $APP', env)).toEqual(['cynchro', 'deploy', 'web']);
    expect(shellWords('a $EMPTY b "$EMPTY"', env)).toEqual(['a', 'b', '']);
    expect(shellWords('a "\\"q\\" \\$APP"', env)).toEqual(['a', '"q" $APP']);
  });

  it('refuses what is more than one plain command', () => {
    for (const c of ['a | b', 'a; b', 'a && b', 'a > f', 'a $(b)', 'a `b`', 'a "$(b)"', 'a $SPACED', 'a "open']) {
      expect(() => shellWords(c, env), c).toThrow();
    }
  });
});

describe('evaluate', () => {
  const ctx = { secrets: { TOKEN: 'cyn_x' }, vars: { APP: 'web' }, github: { sha: 'abc' }, env: { IMAGE: 'img' } };

  it('reads secrets, vars, github and env; a missing value is empty, as on GitHub', () => {
    expect(evaluate('${{ secrets.TOKEN }}/${{vars.APP}}/${{ github.sha }}/${{ env.IMAGE }}/${{ secrets.NONE }}', ctx)).toBe('cyn_x/web/abc/img/');
  });

  it('refuses any other expression', () => {
    expect(() => evaluate("${{ format('{0}', vars.APP) }}", ctx)).toThrow(/unsupported expression/);
    expect(() => evaluate('${{ vars.APP || secrets.TOKEN }}', ctx)).toThrow(/unsupported expression/);
  });
});
