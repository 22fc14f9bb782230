import express from 'express'
const app = express()
app.get('/free', (_req, res) => res.json({ ok: true }))
const s = app.listen(0, '127.0.0.1', () => process.send?.({ port: s.address().port }) ?? console.log(s.address().port))
