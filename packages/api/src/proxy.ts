// `402x-api/proxy`: a paying reverse proxy in front of any HTTP API (docs/proxy.md).

export { createProxy, type PayingProxy, type ProxyOptions } from './proxy/createProxy.js'
export { loadProxyConfig, type ProxyConfig, parseProxyConfig } from './proxy/proxyConfig.js'
