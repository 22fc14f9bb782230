// Scenario (a'): the bare route behind one Express middleware that does nothing but call
// `next()`: what mounting any middleware with `app.use` costs in Express itself, so that
// 402x's own share of the free route's cost can be told apart.
import express from 'express'
import { handler, serve } from './common.js'

const app = express()
app.use((_req, _res, next) => next())
app.get('/free', handler)
app.get('/paid', handler)
serve(app)
