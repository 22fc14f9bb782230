// Scenario (a): the bare route, no middleware.
import express from 'express'
import { handler, serve } from './common.js'

const app = express()
app.get('/free', handler)
app.get('/paid', handler)
serve(app)
