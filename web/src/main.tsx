import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { RouterProvider } from 'react-router';
import { router } from './App';
import { ApiError } from './lib/api';
import './styles.css';

// Reads retry when the server did not answer (the load balancer sends the next try to a live node);
// a 4xx is an answer, shown as it is.
const client = new QueryClient({
  defaultOptions: {
    queries: {
      retry: (n, err) => n < 4 && (!(err instanceof ApiError) || err.unreachable),
      retryDelay: (n) => Math.min(400 * 2 ** n, 3000),
      refetchOnWindowFocus: true,
    },
  },
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={client}>
      <RouterProvider router={router} />
    </QueryClientProvider>
  </StrictMode>,
);
