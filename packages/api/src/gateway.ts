// `402x-api/gateway`: the decision service for app servers in any language (docs/decision-service.md).
export { createGateway, type Gateway, type GatewayOptions } from './gateway/createGateway.js'
export {
  abortPath,
  type DecisionServiceOptions,
  decidePath,
  decisionService,
  finishPath,
} from './gateway/decisionService.js'
