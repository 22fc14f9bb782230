import { useEffect, useRef, useState } from 'preact/hooks'
import type { LiveRequest } from './api'

export type LivePayment = {
  id: string
  state: string
  amount?: string
  payer: string
  transaction?: string
  network?: string
  resource?: string
  at: number
}

export type Live = {
  connected: boolean
  /** The newest requests first (at most 50). */
  requests: LiveRequest[]
  /** Payments seen on the stream since the page loaded, newest first. */
  payments: LivePayment[]
  /** Requests seen in the last 10 s and 60 s. */
  perSecond: number
  perMinute: number
}

/**
 * The live stream (`/__402x/admin/live`): requests and payments as they happen. A payment
 * reloads the stats (soon, once for a burst), so the revenue shown stays the ledger's.
 */
export function useLive(enabled: boolean, reload: () => void): Live {
  const [connected, setConnected] = useState(false)
  const [requests, setRequests] = useState<LiveRequest[]>([])
  const [payments, setPayments] = useState<LivePayment[]>([])
  const [, tick] = useState(0)
  const times = useRef<number[]>([])
  const reloadRef = useRef(reload)
  reloadRef.current = reload

  useEffect(() => {
    if (!enabled) return
    const source = new EventSource('/__402x/admin/live')
    let pending: ReturnType<typeof setTimeout> | undefined
    const soon = () => {
      pending ??= setTimeout(() => {
        pending = undefined
        reloadRef.current()
      }, 1500)
    }
    source.onopen = () => setConnected(true)
    source.onerror = () => setConnected(false)
    source.addEventListener('request', (event) => {
      const request = JSON.parse((event as MessageEvent).data) as LiveRequest
      times.current.push(Date.now())
      setRequests((list) => [request, ...list].slice(0, 50))
      if (request.outcome !== 'paid') soon()
    })
    source.addEventListener('payment', (event) => {
      const data = JSON.parse((event as MessageEvent).data) as Record<string, unknown>
      const payment: LivePayment = {
        id: String(data.id ?? ''),
        state: String(data.state ?? 'settled'),
        payer: String(data.payer ?? ''),
        at: Date.now(),
        ...(typeof data.amount === 'string' ? { amount: data.amount } : {}),
        ...(typeof data.transaction === 'string' ? { transaction: data.transaction } : {}),
        ...(typeof data.network === 'string' ? { network: data.network } : {}),
        ...(typeof data.resource === 'string' ? { resource: data.resource } : {}),
      }
      setPayments((list) => [payment, ...list.filter((p) => p.id !== payment.id)].slice(0, 20))
      soon()
    })
    const timer = setInterval(() => {
      const cut = Date.now() - 60_000
      times.current = times.current.filter((t) => t >= cut)
      tick((n) => n + 1)
    }, 1000)
    return () => {
      source.close()
      clearInterval(timer)
      if (pending) clearTimeout(pending)
      setConnected(false)
    }
  }, [enabled])

  const now = Date.now()
  const perMinute = times.current.filter((t) => t >= now - 60_000).length
  const perSecond = times.current.filter((t) => t >= now - 10_000).length / 10
  return { connected, requests, payments, perSecond, perMinute }
}
