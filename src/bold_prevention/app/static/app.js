// Progressive enhancement only: every page reads and works without JavaScript.
import { initAll as govukInitAll } from './govuk/govuk-frontend.min.js'
import { initAll as mojInitAll } from './moj/moj-frontend.min.js'

document.body.classList.add('js-enabled')
if ('noModule' in HTMLScriptElement.prototype) {
  document.body.classList.add('govuk-frontend-supported')
}
govukInitAll()
mojInitAll()
