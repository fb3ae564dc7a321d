// A loopback TCP port that was free a moment ago, for configs that cannot say "port 0".
export { freeLoopbackPort as freePort } from '../../demo/servers/loopback-port.ts';
