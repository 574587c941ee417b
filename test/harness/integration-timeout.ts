/**
 * Integration tests talk to real servers on a shared two-core machine, where a burst of 200 calls
 * took over jest's default 5 s under load (CI). 60 s still ends a hang; files that need more set their own.
 */
jest.setTimeout(60_000);
