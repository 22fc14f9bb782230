// Express 4 (installed as `express4`) shares Express 5's types for what the tests use.
declare module 'express4' {
  import express from 'express'
  export default express
}
