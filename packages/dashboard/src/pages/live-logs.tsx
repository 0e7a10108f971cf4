// The app's live logs through the SDK's stream (which reconnects by itself and resumes where it left off): follow
// keeps the newest line in view, pause holds new lines back until resumed, the filter narrows what is shown.
import { useEffect, useId, useRef, useState } from 'react';
import type { LogLine } from '@cynchro/sdk';
import { problemOf } from '../error-text.js';
import { useSignedIn } from '../session.js';

const KEEP = 1000;

export function LiveLogs({ appId }: { appId: string }) {
  const { client } = useSignedIn();
  const id = useId();
  const [lines, setLines] = useState<LogLine[]>([]);
  const [held, setHeld] = useState<LogLine[]>([]);
  const [paused, setPaused] = useState(false);
  const [follow, setFollow] = useState(true);
  const [filter, setFilter] = useState('');
  const [state, setState] = useState('connecting');
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  const box = useRef<HTMLPreElement>(null);

  useEffect(() => {
    const ctl = new AbortController();
    void (async () => {
      try {
        const stream = client.apps.logs.stream(appId, {
          tail: 100,
          signal: ctl.signal,
          maxReconnects: 20,
          onEvent: (e) => {
            if (e.type === 'ready') setState('live');
            else if (e.type === 'reconnecting') setState('reconnecting');
            else if (e.type === 'switched') setState('live');
          },
        });
        for await (const line of stream) {
          setState('live');
          if (pausedRef.current) setHeld((h) => [...h, line].slice(-KEEP));
          else setLines((l) => [...l, line].slice(-KEEP));
        }
        if (!ctl.signal.aborted) setState('ended');
      } catch (e) {
        if (!ctl.signal.aborted) setState(`stopped: ${problemOf(e).message}`);
      }
    })();
    return () => ctl.abort();
  }, [client, appId]);

  const resume = () => {
    setLines((l) => [...l, ...held].slice(-KEEP));
    setHeld([]);
    setPaused(false);
  };

  const shown = filter ? lines.filter((l) => l.text.toLowerCase().includes(filter.toLowerCase())) : lines;
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [shown.length, follow]);

  return (
    <div className="logs">
      <div className="toolbar">
        <span role="status" className="muted">
          Stream: {state}
          {paused && held.length > 0 ? ` · ${held.length} new lines held` : ''}
        </span>
        <label htmlFor={`${id}-filter`}>Filter</label>
        <input id={`${id}-filter`} type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="text to match" />
        <label className="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} />
          Follow
        </label>
        <button type="button" onClick={() => (paused ? resume() : setPaused(true))} aria-pressed={paused}>
          {paused ? 'Resume' : 'Pause'}
        </button>
        <button type="button" onClick={() => setLines([])}>
          Clear
        </button>
      </div>
      <pre ref={box} className="log-box" role="log" aria-label="Live log lines" tabIndex={0}>
        {shown.length === 0 ? <span className="muted">{filter ? 'No line matches the filter.' : 'No log lines yet.'}</span> : shown.map((l, i) => <LogRow key={i} line={l} />)}
      </pre>
    </div>
  );
}

function LogRow({ line }: { line: LogLine }) {
  return (
    <span className={`log-line ${line.stream}`}>
      <span className="muted">{new Date(line.timestamp).toLocaleTimeString()} {line.service}/{line.replica}</span> {line.text}
      {'\n'}
    </span>
  );
}
