import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { SignIn } from './components/SignIn.js';
import './styles.css';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <SignIn>
      <App />
    </SignIn>
  </StrictMode>,
);
