import { useCallback, useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { AUTH_REQUIRED, signIn, signOut, whoami, type WhoAmI } from '../api/auth.js';

/**
 * Stands in front of the app: on a server with `auth:` it asks for a token before anything is loaded
 * (every view would only get 401s), then shows who is signed in, for which tenant and scope. An open
 * server shows the app as it is. A 401 later (token removed from the config) brings the box back.
 */
export function SignIn({ children }: { children: ReactNode }) {
  const [who, setWho] = useState<WhoAmI | { state: 'checking' } | { state: 'error'; message: string }>({ state: 'checking' });
  const [draft, setDraft] = useState('');
  const check = useCallback((token?: string) => {
    whoami(token).then(setWho, (e: Error) => setWho({ state: 'error', message: e.message }));
  }, []);
  useEffect(() => {
    check();
    const onRequired = () => setWho((w) => (w.state === 'signed-in' ? { state: 'signed-out', message: 'The server no longer accepts this token.' } : w));
    window.addEventListener(AUTH_REQUIRED, onRequired);
    return () => window.removeEventListener(AUTH_REQUIRED, onRequired);
  }, [check]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const result = await whoami(draft.trim()).catch((err: Error) => ({ state: 'signed-out' as const, message: err.message }));
    if (result.state === 'signed-in') {
      signIn(draft);
      setDraft('');
    }
    setWho(result.state === 'signed-out' ? { ...result, message: `Not signed in: ${result.message}` } : result);
  };

  if (who.state === 'checking') return <div className="state loading">Connecting…</div>;
  if (who.state === 'error') return <div className="state error" role="alert">Could not reach the Kiln server: {who.message}</div>;
  if (who.state === 'open') return <>{children}</>;
  if (who.state === 'signed-out') {
    return (
      <form className="sign-in" data-testid="sign-in" onSubmit={(e) => void submit(e)}>
        <h1>Kiln</h1>
        <p>This server needs a token. Ask its operator for one (kiln token create) and paste it here.</p>
        <input type="password" aria-label="token" placeholder="kiln_…" value={draft} autoFocus onChange={(e) => setDraft(e.target.value)} />
        <button type="submit" disabled={draft.trim() === ''}>
          Sign in
        </button>
        {who.message && !/requires a token/.test(who.message) && (
          <div className="inline-error" role="alert" data-testid="sign-in-error">
            {who.message}
          </div>
        )}
      </form>
    );
  }
  return (
    <>
      <div className="signed-in" data-testid="signed-in">
        Signed in as <b>{who.principal}</b> ({who.role}) · tenant <b>{who.tenant}</b>
        {who.scope && (
          <>
            {' '}
            · only <code>{who.scope}</code>
          </>
        )}
        <button
          onClick={() => {
            signOut();
            setWho({ state: 'signed-out', message: '' });
          }}
        >
          Sign out
        </button>
      </div>
      {children}
    </>
  );
}
