export { createDemoApi, demoEndpoints } from './demoApi.js'
