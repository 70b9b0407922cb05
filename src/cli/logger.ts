import pino, { type Logger } from 'pino';

/** Structured logs to stdout; secrets never reach a log call (keys, passwords and URLs with passwords are kept out). */
export function nodeLogger(nodeName: string): Logger {
  return pino({
    level: process.env.CUTTLE_LOG_LEVEL ?? 'info',
    base: { node: nodeName },
    redact: { paths: ['password', '*.password', 'masterKey', '*.masterKey', 'apiKey', 'req.headers.cookie', 'req.headers["x-octopus-apikey"]'], censor: '****' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
