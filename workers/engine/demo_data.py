"""Seeded demo data: help-desk tickets of a small SaaS company, in seven intent classes.

``generate`` returns two labelled samples:

* the *baseline sample* (~2,000 rows): e-mail-style tickets, several sentences each, written from many
  templates whose synonyms and slot fillers vary, so one intent rarely repeats its exact wording. Classes
  share everyday vocabulary (account, workspace, invoice, export, delete), about 6% of tickets mix two
  intents and ~2% carry a wrong label, as real help-desk exports do;
* the *production sample* (~400 rows) has drifted: short chat messages, slang, abbreviations and typos, more
  mixed-topic messages and a different class mix (more login trouble, fewer feature ideas).

All text is original and synthetic; people are referred to only by role ("my manager").
Everything is driven by ``random.Random`` instances seeded from ``seed``; the global RNG is never touched.
"""
from __future__ import annotations

import csv
import pathlib
import random
import re

LABELS: list[str] = [
    "account_cancellation",
    "billing",
    "bug_report",
    "data_privacy",
    "feature_request",
    "how_to",
    "login_access",
]

SAMPLE_MIX = {
    "account_cancellation": 0.10,
    "billing": 0.19,
    "bug_report": 0.18,
    "data_privacy": 0.10,
    "feature_request": 0.12,
    "how_to": 0.14,
    "login_access": 0.17,
}
# Production has drifted: a sign-in change brought more access trouble; feature ideas go elsewhere now.
PRODUCTION_MIX = {
    "account_cancellation": 0.12,
    "billing": 0.13,
    "bug_report": 0.22,
    "data_privacy": 0.06,
    "feature_request": 0.07,
    "how_to": 0.15,
    "login_access": 0.25,
}
LABEL_NOISE = 0.02
SAMPLE_MIXED_SHARE = 0.06
PRODUCTION_MIXED_SHARE = 0.14

# Template syntax: "[a|b|]" picks one alternative (possibly empty), "{slot}" draws from SLOTS,
# "{slot_cap}" does the same with a capital first letter.
SLOTS: dict[str, list[str]] = {
    "thing": [
        "report", "dashboard", "invoice template", "project", "client list", "calendar", "timesheet",
        "pipeline board", "intake form", "shared folder", "task list", "budget sheet", "booking page",
        "contact record", "weekly planner", "quote",
    ],
    "device": [
        "my laptop", "my phone", "the iPad app", "the desktop app", "Chrome", "Firefox", "Safari",
        "the Android app", "the iPhone app", "my work computer", "the browser version", "Edge",
    ],
    "when": [
        "since yesterday", "since this morning", "for about a week", "since the last update", "since Monday",
        "for a couple of days", "on and off all week", "since last night", "after the weekend",
        "since the new version came out", "for the past few days", "ever since we changed plans",
    ],
    "team": [
        "our team", "my team", "our office", "the sales team", "our bookkeepers", "the people I manage",
        "our support staff", "a few colleagues", "the whole department", "our contractors", "the night shift",
    ],
    "role": [
        "my manager", "a coworker", "our finance lead", "the new hire", "our IT admin",
        "a contractor we work with", "my business partner", "the office manager", "someone on my team",
        "the owner of the business",
    ],
    "plan": ["Starter", "Team", "Business", "Pro", "Growth", "Enterprise"],
    "amount": ["$49", "$129", "$18", "$240", "$99", "$1,080", "$35", "$560", "$12.50", "$300"],
    "n": ["3", "4", "5", "6", "8", "10", "12", "15", "20", "25"],
    "period": ["month", "quarter", "year", "billing cycle"],
    "weekday": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
    "app": [
        "Slack", "Google Calendar", "Outlook", "QuickBooks", "Xero", "Salesforce", "HubSpot", "Zapier",
        "Microsoft Teams", "Dropbox", "Google Drive", "Shopify",
    ],
    "format": ["CSV", "Excel", "PDF", "JSON", "a Word document"],
    "business": [
        "design agency", "bakery", "accounting firm", "dental practice", "charity", "logistics company",
        "yoga studio", "law office", "property management company", "small school",
    ],
}

OPENERS = [
    "Hi,", "Hello,", "Hi there,", "Hello team,", "Hi support,", "Good morning,", "Good afternoon,",
    "Dear support team,", "Hey,", "Hey folks,", "Hello again,", "To whom it may concern,", "Hi all,",
]
PREFACES = [
    "Not sure who to ask about this.", "Hoping you can help with something.", "Quick one for you.",
    "I'll keep this short.", "Sorry if this has been asked before.", "Writing on behalf of {team}.",
    "This is a bit urgent for us.", "Following up on something from earlier.", "Long-time user here.",
]
CONTEXT = [
    "We've been using the [app|tool|platform] for about {n} [months|years].",
    "I'm the admin for our workspace.",
    "We're on the {plan} plan.",
    "I mostly use {device}.",
    "{role_cap} set [this|the account] up originally.",
    "We have around {n} people on the account.",
    "The account is under the company name, not mine.",
    "I'm fairly new to the [tool|app].",
    "We run a small {business}.",
    "[Most of|All of] {team} [relies on|uses] the {thing} daily.",
]
GENERIC_ASKS = [
    "Can someone look into this?", "What should I do?", "Please advise.", "Any help is appreciated.",
    "Let me know what you need from me.", "Could you get back to me today?",
    "Is this something you can sort out on your end?", "What are my options?",
    "Please get back to me when you can.", "I'd appreciate a quick reply.",
]
CLOSERS = [
    "Thanks,", "Thanks!", "Thank you.", "Cheers.", "Thanks in advance.", "Appreciate it.", "Regards.",
    "Best,", "Many thanks.", "Kind regards.",
]

# Sample (e-mail style) intent sentences. Each class has many paraphrases that share few content words,
# and all classes lean on the same everyday nouns, so keywords alone do not settle the label.
CORE: dict[str, list[str]] = {
    "account_cancellation": [
        "I'd like to cancel our subscription[ at the end of this {period}| effective immediately| before it renews].",
        "Please [close|shut down|deactivate] our account[; we won't be needing it anymore| as of {weekday}|].",
        "We've decided [not to renew|to stop using the service|to move to another tool] [after this {period}|once our contract ends|at the end of the trial].",
        "[Our business is closing|The company is winding down|We're shutting the {business} down] and we [no longer need|won't need] the [workspace|account|subscription].",
        "How do I make sure [the plan|our subscription|it] doesn't [auto-renew|renew automatically|roll over] next {period}?",
        "[We're switching to|We've chosen|Leadership picked] [a different provider|another tool|a cheaper service|the platform our parent company uses], so please [end|terminate|wind down] our [plan|contract|subscription].",
        "Turn off [auto-renewal|automatic renewal|the recurring subscription] for our account, please.",
        "I want to [downgrade to the free tier|drop back to the free plan|go down to the basic free version] and stop paying for {plan}.",
        "Can we [pause|freeze|put on hold] the subscription for [a few months|the summer|the off-season] instead of [paying|being billed] for seats nobody uses?",
        "[Honestly|To be frank|Sadly], the [tool|product|app] isn't a good fit for {team}, so we're [leaving|moving on|parting ways].",
        "I [signed up by mistake|only meant to try it out|never meant to continue past the trial] and want to [end|stop] it [now|before anything else happens|today].",
        "We no longer have the budget for this, please [terminate|end|wrap up] [the contract|our plan|everything] [when the current term ends|right away].",
        "Please [remove|take] my [card|payment details] off file and [close|end] the account [so nothing renews|for good].",
        "[What's the process|What do I need to do|Who do I talk to] to [end|get out of] our annual contract early?",
        "I've been looking for the [exit|cancel|leave] option [in settings|on the billing page|everywhere] and it isn't there. I just want out.",
        "We [merged with|were acquired by|joined] another company and [will be|are] consolidating onto their systems, so this workspace [can go|should be shut down|is no longer needed].",
        "[Stop|Please end] my membership. I [don't|barely] use it [anymore|these days].",
        "Our [trial period|pilot|evaluation] is over and [we won't be going ahead|the team decided against it|we're not moving forward].",
        "[Confirm|Please confirm] that [our account|the subscription] [has been|is] terminated and that [nothing further will be taken|we're finished with you].",
        "[Please don't renew us|Do not renew our plan] in [January|March|the new year|the spring]; we're [moving everything in-house|going a different direction].",
        "I'm the owner of this workspace and I'd like to [close it down|shut it] [entirely|completely], including [all the seats|every user|the extra licenses].",
        "[Unsubscribe|Withdraw] us from the {plan} plan[ please|, we're done].",
        "The [features|tools] we relied on [got removed|aren't there anymore], so there's no reason for us to [stay|keep paying].",
        "[My freelance work dried up|I've retired|I'm changing careers] and won't need the account [going forward|anymore].",
        "Is there a [penalty|fee] for [leaving|walking away] before the [twelve months|contract term] are up? We want to [go|wrap up] [now|next month].",
        "We'd like to [wind down|phase out] the account over the next [two weeks|month] and then have it [closed|switched off].",
        "Please [process|action] the request I sent [last week|earlier] to end our plan; it still says active.",
        "Not renewing. [Let me know|Tell me] what [I need to do|is required] on my end.",
        "I [want to|need to] [leave|quit] the service; the [price increase|new pricing] [pushed us out|made it too expensive].",
        "We [only needed|used] it for a [single project|one-off event] and that's [finished|wrapped up] now, so [we can shut the account|please end the plan].",
        "[Kindly|Please] [discontinue|terminate] the service for our [organisation|company|practice].",
        "How [can I|do I] [get rid of|end] the paid plan [without losing|but keep] [my old files|our history]?",
        "[My manager|Management|The owner] asked me to [shut this down|end this] [by Friday|this week|before the next invoice].",
        "Please [take us off|remove us from] [automatic billing|the renewal list] and [end|close] the subscription.",
        "I [keep getting|still get] renewal reminders even though I [asked to leave|said we're leaving] [last month|weeks ago].",
        "We're [consolidating tools|cutting software costs] and this one [didn't make the cut|is going]; please [close us out|end things] [cleanly|at the end of the term].",
        "[Everyone|All of {team}] [has moved on|stopped logging in] months ago, so there's no point [keeping|paying for] the workspace.",
        "Can you [tell me|confirm] the last day our [plan|service] will be active once I [give notice|ask to leave]?",
    ],
    "billing": [
        "I was [charged|billed] twice [this {period}|for the same {period}|on {weekday}].",
        "Two [payments|transactions|withdrawals] [came out of|hit|were taken from] my [card|bank account] for [one|a single] subscription.",
        "The invoice [amount|total] doesn't match [what I signed up for|the price on your website|the quote we were given].",
        "We were [billed|charged|invoiced] for {n} seats but only [three|a handful of|two] people [use it|are active].",
        "The trial was supposed to be free, but [my card got debited|{amount} was taken|I see a charge of {amount}].",
        "I'd like [my money back|a refund|to be reimbursed] for [last {period}'s renewal|the {amount} charge|the unused months].",
        "Can you [reverse|undo|credit back] the [extra|duplicate|accidental] payment?",
        "The price went up [without any notice|and nobody told us|by {amount}] [this {period}|at renewal].",
        "My card [keeps getting declined|was rejected|fails] when the renewal [runs|tries to go through], but the bank says it's fine.",
        "I need [a copy of the receipt|an itemised invoice|all our invoices for the year] for [our accountant|the tax return|an expense claim].",
        "Please [add|include] our VAT [number|ID] on [the invoices|future invoices|the billing documents].",
        "The [company name|address|tax ID] on [the invoice|our invoices] is wrong[ and our finance team won't accept it|].",
        "We paid for the annual [plan|subscription] but [are still being|keep getting] [billed|charged] monthly.",
        "I [want to|need to] [switch|move] the payment to a different [card|bank account] [before the next renewal|this {period}].",
        "We got [an overdue notice|a reminder that we owe money|a past-due warning] even though we [paid|settled it] [last week|on time].",
        "The upgrade cost [more than|way more than] the pricing page [said|showed].",
        "Nobody told me the [discount|promo rate|introductory price] would [expire|end] after [three months|the first year].",
        "There's a [pending hold|temporary authorization] of {amount} on my card that never [cleared|went away].",
        "Our [finance team|bookkeeper|accounts department] can't [reconcile|match] the statement with [the quote|the contract|what sales told us].",
        "The renewal [went through|was taken] on a card that [was supposed to be removed|we deleted months ago|belongs to a former employee].",
        "We're still paying for a seat we removed [weeks ago|last {period}|during our cleanup].",
        "I paid by bank transfer but the account still shows [overdue|unpaid|a balance due].",
        "[Sales|Your rep|The person who onboarded us] promised a [nonprofit|education|startup] rate but the bill shows full price.",
        "We downgraded to {plan} but [the charge|what we pay] is still the old [price|amount].",
        "[The sum|The total] [on my statement|that came out] is higher than [usual|last {period}] and I can't see why.",
        "A [mysterious|strange|new] fee labelled 'adjustment' [showed up|appeared] on [this {period}'s|the latest] bill.",
        "Your system took the money but the account [says|still says] unpaid.",
        "[My bank|The card company] flagged a transaction from you that I don't recognise.",
        "[Why|How come] am I [being charged|paying] for [storage|add-ons|extras] I never [turned on|asked for]?",
        "[The number|The figure] in the monthly [email|statement] is [bigger|larger] than last time, [can you explain|what changed]?",
        "Can we [pay|be invoiced] [quarterly|by purchase order|by bank transfer instead of card]?",
        "We were [overcharged|charged too much] after [adding|removing] users mid-{period}; the [proration|partial credit] looks wrong.",
        "I [gave notice|downgraded] [in time|before the date] but [still got charged|the renewal still went through].",
        "[Please|Could you] [send|email] the [invoice|receipt] to our [accounts|finance] inbox instead of mine.",
        "The currency on [my bill|the invoice] [switched to|is in] [euros|pounds|dollars] and [the conversion cost me extra|I want it changed back].",
        "[The payment didn't go through|A payment bounced] and now the workspace [shows a warning banner|is in read-only mode].",
        "We [bought|purchased] extra [storage|seats] [by accident|without meaning to]; can that [be undone|come off the bill]?",
        "[Somebody|Someone on {team}] upgraded us to {plan} [without approval|by mistake] and the [cost|difference] [hit|landed on] my card.",
    ],
    "bug_report": [
        "The {thing} [crashes|freezes|goes blank] whenever I [open|try to open|scroll through] it [on {device}|in {device}].",
        "I get [an error|a red error banner|a 'something went wrong' message] when I [save|submit|update] the {thing}.",
        "Changes I make to the {thing} [don't stick|disappear after a refresh|revert after a few minutes].",
        "[Since the last update|Lately], the app [is painfully slow|takes ages to load|spins forever] [on {device}|for {team}].",
        "The export [comes out empty|is missing half the rows|produces a corrupted file] [every time|when I pick {format}].",
        "Notifications [stopped arriving|never show up|come through hours late] [{when}|on {device}].",
        "The totals on the {thing} are [wrong|off by a few|not adding up]; [the numbers|the sums] don't match the [rows|entries] below.",
        "[Every entry|Each item] [shows up twice|is duplicated] after [syncing|the import].",
        "The [save|submit|next] button [does nothing|isn't clickable|stays greyed out] [on {device}|in {device}].",
        "[Dates|Times] are [shifted by an hour|showing in the wrong timezone|a day off] on the {thing}.",
        "The page [layout|design] is [broken|overlapping|cut off] [on {device}|when I zoom in], and I can't [reach|see] the [menu|right column].",
        "[Attachments|Uploaded files|Images] [fail to upload|get stuck at 99%|vanish] [{when}|on {device}].",
        "The search [returns nothing|shows results from the wrong project|ignores my filters] even though the [item|record] exists.",
        "The [mobile app|desktop app] [closes itself|quits unexpectedly] [right after launch|the moment I tap the {thing}].",
        "[Sync|Syncing] between [my phone and laptop|{device} and the web] [stopped working|is stuck] {when}.",
        "I [deleted|archived] [a few items|the old {thing}] and they [keep coming back|reappeared the next day].",
        "The [graph|chart] on the {thing} [doesn't render|shows flat lines|is empty] even though there is data.",
        "[Something|This] [broke|changed] {when}: [the drag and drop|reordering] [doesn't work|snaps back] anymore.",
        "Emails [from the app|sent through the app] [go out with|contain] [broken links|garbled characters|the wrong template].",
        "The [CSV|spreadsheet] import [fails halfway|throws an error on the first row|skips every other line].",
        "[Printing|The print view] of the {thing} [cuts off|loses] the last [page|column].",
        "[Recurring|Repeating] [tasks|entries|reminders] [are not being created|stopped generating] {when}.",
        "[It|The app] [logs|signs] me out [every few minutes|randomly] while I'm [typing|in the middle of editing].",
        "[Filters|Sorting] on the {thing} [reset|get lost] every time I [switch tabs|come back].",
        "[Pressing|Clicking] [undo|back] [wipes|erased] [everything|my whole draft] instead of [the last change|one step].",
        "The [counter|badge] says I have {n} unread [items|messages] but there's nothing there.",
        "[Accented letters|Special characters] [turn into question marks|get mangled] when I [paste|type] them into the {thing}.",
        "Our [webhook|Slack notifications|calendar sync] [fires twice|stopped firing] {when}.",
        "I [followed|did] [the usual steps|exactly what I always do] and [got|hit] [error code 500|a timeout|a blank screen].",
        "The [percentages|progress bars] on the {thing} [go above 100|show negative values].",
        "[Half|Some] of [my|our] [comments|notes] [are missing|disappeared] from the {thing} [overnight|{when}].",
        "The [app|page] [uses|eats] [so much memory|all the CPU] that {device} [overheats|becomes unusable].",
        "[Sorting by date|Alphabetical sorting] puts [things|items] in a [random|nonsensical] order.",
        "When two of us edit the {thing} at the same time, one person's [changes|work] [gets overwritten|is lost].",
        "[The dark theme|Some of the text] is [unreadable|invisible], [white on white|black on black], [on {device}|in {device}].",
        "[Scrolling|Typing] in the {thing} [lags|stutters] so badly that [letters appear seconds later|I lose my place].",
        "[It worked fine last week|Nothing changed on our side], but now the {thing} [won't open at all|shows someone else's layout].",
        "The [PDF|printout] [renders|comes out] with [overlapping text|missing logos|the wrong page size].",
    ],
    "data_privacy": [
        "[Under GDPR|As an EU resident|Per data protection law], I'm requesting a copy of all personal data you hold about me.",
        "Please [erase|permanently remove|wipe] [all my personal information|every record about me|my details] from your systems.",
        "Who [at your company|on your side] can [see|read|access] the [files|records|notes] we [upload|store] in the {thing}?",
        "[How long|For how long] do you [keep|retain|hold on to] [our information|customer records|backups] after [an account is closed|we leave]?",
        "Our [legal team|compliance officer|lawyer] needs a signed [data processing agreement|DPA] before we [go further|add more users].",
        "[Where|In which country|Which region] are [our files|the servers|the databases] [physically stored|hosted|located]?",
        "Can you share [the list of subprocessors|who you pass information to|which third parties receive our records]?",
        "I [keep getting|received] marketing emails even though I [never opted in|unsubscribed twice|withdrew consent].",
        "[A former employee|Someone who left {team}] still [appears|shows up] in our workspace with their [phone number|home address|personal details]; that needs to go.",
        "We [noticed|spotted] a sign-in [from a country we've never been to|from an unknown location|at 3am] and are worried [our records|client files] [were exposed|leaked].",
        "Do you [use|feed] our [content|documents|uploads] to train [AI models|your machine learning]?",
        "I'd like to [withdraw consent|opt out] [of analytics tracking|for cookies|from usage tracking] in the app.",
        "[Was|Is] our [information|account] [affected by|part of] the [security incident|breach] [mentioned in the news|you emailed about]?",
        "[Please|Can you] confirm [that you encrypt|whether you encrypt] [everything at rest|stored files|backups]?",
        "A client [asked|wants to know] [whether|if] [their|the] details [we store|we keep] in your [app|platform] [are|stay] [confidential|private|within the EU].",
        "Someone [created|set up] an account using my email address and I want [it and everything in it|everything tied to it] [removed|gone].",
        "We need your [security questionnaire|SOC 2 report|penetration test summary] [answered|for our vendor review].",
        "[Does|Do] [your support staff|your engineers] [ever|need to] [look at|open] our [records|account contents] [without asking|when fixing problems]?",
        "I [found|discovered] that [my profile|our company details] [are|is] [visible|public] to [people outside|anyone with the link]; [that's|this is] [not okay|a problem].",
        "[Please|Kindly] [stop|cease] [processing|using] my [personal information|details] for anything other than [the service itself|sending invoices].",
        "[What|Which] [information|details] do you [collect|gather|log] [when|while] we use the [mobile app|browser extension]?",
        "Our [clinic|school|law firm|counselling practice] has [strict|special] [confidentiality|privacy] rules; can you [sign|agree to] [a BAA|our terms on handling records]?",
        "[After we leave|If we walk away], [will|can] you [guarantee|certify] that [everything|all copies] [is|are] [destroyed|wiped], including backups?",
        "I [want|need] to know [what third parties|which advertisers|who else] [get|receive] [my|our] [email address|usage history].",
        "[A colleague|{role_cap}] [shared|sent] a [link|file] [with|to] [the wrong client|someone outside the company]; how do we [revoke|pull back] [access|it] and [report|log] it?",
        "[Please|Can you] [anonymise|pseudonymise|scrub] [the names|personal details] in [the old {thing}|our archived records]?",
        "I'm [exercising|using] my right to [access|rectification|be forgotten] [under data protection law|under the CCPA|under GDPR].",
        "[Why|How come] [does the app|does the mobile app] [need|ask for] [access to my contacts|my location|my microphone]?",
        "[We|Our company] [must|need to] keep [records|everything] [inside|within] [Canada|the EU|Australia]; [is that possible|can you guarantee that]?",
        "[Someone|An unknown user] [downloaded|pulled out] [our whole client list|all our contacts] and [we didn't authorise it|nobody here did it].",
        "[Please|Could you] [tell me|confirm] [what happens to|how you handle] [the recordings|uploaded documents|ID scans] [we store|after processing]?",
        "[My|Our] [email|details] [ended up|appeared] on [a mailing list|another company's newsletter] [right after|soon after] [signing up|we joined] with you.",
        "[I'd like|We need] [a record|a log] of [every time|whenever] [your staff|anyone outside our company] [viewed|touched] our [account|files].",
        "[Is|Are] [the chat transcripts|call notes|our customer messages] [kept|stored] [forever|indefinitely], and can we [set|choose] a shorter [period|limit]?",
    ],
    "feature_request": [
        "It would be [great|really helpful|a big win] if the {thing} [had|supported] [a dark mode|bulk editing|custom fields|keyboard shortcuts].",
        "[Please|Could you] [add|build|consider adding] [an integration with|a connector for|native support for] {app}?",
        "We'd [love|really like] to be able to [save|produce] the {thing} as {format}[, not just the current format|].",
        "[Any plans|Is it on the roadmap|Are you planning] to [support|offer] [offline mode|working without internet|an offline version]?",
        "[Our team|{team_cap}] [needs|would benefit from] [more granular|finer] [permissions|roles], [e.g.|like] [view-only guests|editors who can't remove things].",
        "[Suggestion|Idea|Feature idea]: let us [schedule|set up] [recurring|repeating] [reports|tasks|reminders] [automatically|on a timetable].",
        "[I wish|It'd be nice if] [you could|there was a way to] [merge|combine] two {thing}s into one.",
        "[Could|Can] the [mobile app|iPad app] [get|have] the same [features|options] as the [web version|desktop]?",
        "[We'd pay|I'd happily pay] [extra|more] for [an audit log|version history|a white-label option].",
        "[Please consider|Vote from us for] a two-way sync with {app}.",
        "The {thing} [really needs|is missing] a [way|button] to [duplicate|clone|copy] it [with one click|quickly].",
        "[Bring back|Please restore] the [old layout|compact view|classic editor]; [many of us|our staff] [preferred|miss] it.",
        "[More|Additional] [chart types|colour options|templates] [would be|are] [welcome|needed] for the {thing}.",
        "[Being able to|The ability to] [tag|label] [items|entries] [with colours|by client] would [save us hours|make life easier].",
        "[Why not|Have you thought about] [adding|offering] [a public API|webhooks|an API endpoint] for the {thing}?",
        "[Our clients|Customers] keep asking [if|whether] they can [sign|approve] [documents|quotes] [right in the app|inside the portal].",
        "A [calendar|timeline|Gantt] view [for|of] the {thing} would [be huge|help a lot|make planning easier].",
        "[Let|Allow] [admins|owners] to [set|require] [default|mandatory] fields [so|and] [people|staff] [can't skip|always fill in] them.",
        "[We need|Need] [support for|the option of] [multiple currencies|several languages|right-to-left text] [in|on] the {thing}.",
        "[Please|Kindly] [make it possible|add an option] to [hide|collapse] [columns|sections] [we don't use|that clutter the screen].",
        "[Would|Could] you [consider|look at] [a bigger|an increased] [file size limit|storage allowance|character limit] [for attachments|on notes]?",
        "[An undo history|A trash bin|A recycle bin] [for|on] the {thing} [would have saved|could save] [us|me] [yesterday|a lot of pain].",
        "[Idea|Request]: [automatic|smart] [reminders|follow-ups] when [a task|an invoice|a form] [is overdue|hasn't been opened].",
        "[Single sign-on|SAML|Login with our company directory] [should|ought to] be available on the {plan} plan too, not only Enterprise.",
        "[We'd like|Give us] [a way|an option] to [pin|favourite|star] the {thing}s we use [every day|most].",
        "[A read receipt|Some sort of seen indicator] [for|on] [comments|messages] would [be nice|help].",
        "[Please|Could you] [add|support] [two-factor|passkeys|fingerprint login] [for the app|on mobile]?",
        "[Can|Could] you [make|let] the {thing} [printable|shareable as a link|embeddable on our website]?",
        "I'd [love|like] [a summary|a weekly digest] [email|report] [of|showing] what [changed|happened] in the {thing}.",
        "[Drag and drop|Bulk upload] [of|for] [whole folders|many files at once] [would be|is] [a must|really useful].",
        "[Speaking for|On behalf of] {team}: [an approval workflow|a sign-off step] before [things|items] go live would [be great|help us].",
        "The {thing} [could|should] [remember|keep] [my|the] [last filters|preferred view] [between sessions|when I come back].",
        "[It's a shame|Too bad] the {thing} [can't|won't] [group|split] [entries|rows] by [week|client|owner]; [please|any chance you could] [change that|make it happen]?",
        "[Honestly|Frankly], [the one thing|what] [holding us back|we miss most] is [a proper mobile widget|voice notes|a kiosk mode for the front desk].",
        "[Consider|Think about] [letting|allowing] [guests|clients] [comment|leave feedback] without [needing|creating] a full [seat|login].",
    ],
    "how_to": [
        "How do I [add|invite] [a new user|{role}|another person] to [our workspace|the {thing}]?",
        "[Where can I|How can I|Where do I] [change|update] the email address [on my profile|I sign in with|for notifications]?",
        "[Is there a way to|How can I|What's the best way to] [export|download] the {thing} [to|as] {format}?",
        "[Can someone walk me through|Could you explain|What are the steps for] [setting up|creating] a [recurring|repeating] [invoice|task|reminder]?",
        "[I can't figure out|I'm not sure] [where|how] to [change|set] the [time zone|date format|currency] [for|on] the {thing}.",
        "How [do I|can I] [move|transfer] a {thing} [from one workspace to another|to a different folder|to a colleague]?",
        "[What's the easiest way|How do I go about|Is it possible] to [share|send] the {thing} with [a client|someone outside our company] [without giving them a login|as read-only]?",
        "I [accidentally|mistakenly] removed the {thing}; [how do I get it back|can I restore it|is there a way to recover it]?",
        "How [do I|can I] [limit|restrict] what {role} can [see|edit] [in the {thing}|]?",
        "[Which|What] [setting|option|menu] [controls|turns off] the [daily summary emails|notification sounds|reminder pop-ups]?",
        "[Where do I find|How do I get to] the [archive|old {thing}s|history] [from last year|we stored]?",
        "[Quick question|One question]: [how do I|how can I] [reorder|rearrange] the columns on the {thing}?",
        "[Is it possible to|Can I] [connect|link] {app} [to|with] my account, and if so [how|where do I start]?",
        "[I'm new here|We just started]; [what's the best way|what do you recommend] to [organise|structure] [projects|clients] for {team}?",
        "How do I [change|update] [our company logo|the branding|the colours] on [the {thing}|client-facing pages]?",
        "[Can you tell me|Please explain] [how|what] [the different roles|user permissions|admin rights] [work|mean] [in practice|]?",
        "[How|In what way] [do I|can I] [import|bring in] [our old records|contacts from a spreadsheet] [from|out of] {format}?",
        "[Where|How] do I [download|find] [the mobile app|the desktop app] [for|on] [my phone|Windows|a Mac]?",
        "[What happens|What do I do] [if|when] I [want|need] to [rename|relabel] a {thing} [that others already use|that's shared]?",
        "[How can I|Is there a way to] [print|save] [only part of|a single page of] the {thing}?",
        "[Can|Could] [somebody|you] [show me|point me to] [a guide|the help article|a tutorial] [for|on] [setting up|using] [automations|templates]?",
        "[How do|Can] I [switch|toggle] between [workspaces|accounts] [without|rather than] [signing out|starting over] each time?",
        "[How|What's the way] to [give|hand] {role} [admin|owner] [rights|privileges] [on|in] our account?",
        "[When|If] I [assign|hand over] a {thing}, [does|will] the other person [get notified|see it straight away]? [How do I check|Where do I see that]?",
        "[Where|Which screen] do I [set up|configure] [approval steps|reminders|default templates] [for new|on new] {thing}s?",
        "[How do I|What's the trick to] [duplicate|copy] [last {period}'s|an existing] {thing} [so I|to] [don't have to|avoid having to] start over?",
        "[I need to|I'd like to] [bulk update|change many] [records|entries] at once; [how|what's the way] [to do that|]?",
        "[How|Where] do I [see|check] [who|which of my colleagues] [changed|edited] the {thing} [last|most recently]?",
        "[Can you explain|How does] [the storage limit|the seat count|usage] [work|get calculated]? [Where|How] do I [see|check] [mine|ours]?",
        "[How|Where] [do I|can I] [update|change] the [card|payment method] [on file|we use]?",
        "[Is there a shortcut|What's the quickest way] to [jump|get] [back to|straight to] the {thing} [from the home screen|on {device}]?",
        "[I've read the docs but|Forgive me, but] [how exactly|how] [does one|do you] [attach|link] a {thing} to [a client|another record]?",
        "[What|Which] [steps|settings] [do I need|should I use] [so that|to make sure] [reminders|notifications] go to {role} instead of me?",
    ],
    "login_access": [
        "I [can't|cannot|am unable to] [log in|sign in|get into my account] [{when}|from {device}|anymore].",
        "The password reset [email|link] [never arrives|doesn't come through|isn't showing up], [not even in spam|and I've checked junk].",
        "[My account|I] [got|was] locked out after [too many attempts|a few wrong tries|I mistyped the password].",
        "I [lost|replaced|broke] [my phone|the phone with the authenticator] and can't [get|receive] the [verification|two-factor|2FA] code.",
        "[Single sign-on|SSO|Signing in with Google|The Microsoft login] [fails|errors out|loops back to the start] [for {team}|{when}].",
        "{role_cap} [accepted the invite|clicked the invitation link] but [sees|gets] ['access denied'|'no permission'|an empty workspace].",
        "[It|The site] [says|tells me] my [email|username] [isn't recognised|doesn't exist], but I've used it for years.",
        "I [was|got] [removed|kicked out] of [the admin role|our workspace] and [can no longer|can't] [see|manage] [anything|the {thing}].",
        "[The reset link|The magic link|The sign-in link] [says it has expired|is invalid] [the moment|as soon as] I [click|open] it.",
        "[We|I] [changed|updated] [my|our] [company email domain|email address] and now [I|nobody] can [get in|sign in].",
        "[Our|The] [only admin|account owner] [left the company|is on leave] and [no one|nobody] [else|] can [get into|manage] the account.",
        "[I keep getting|It shows] ['invalid credentials'|'incorrect password'] [although|even though] [I just reset it|the password is right].",
        "[My|Our] account [has been|was] [disabled|suspended|deactivated] [without warning|for no reason I can see]; [how do I get back in|please restore access].",
        "[I'm|I am] stuck in a [loop|cycle] [between|of] [the login page|signing in] and [the verification screen|the dashboard redirect].",
        "[The captcha|The 'I'm not a robot' check] [won't|doesn't] [let me through|accept my answers] [on {device}|].",
        "[Can you|Please] [unlock|reactivate|re-enable] [my|our] [user|account|login] [so I can|as I need to] [work|finish payroll today]?",
        "[I forgot|I don't remember] [which email|what address] I [signed up with|used to register]; [how can I|can you help me] [get back in|recover the account]?",
        "[The authenticator app|My code generator] [shows|gives] codes that [are always rejected|never work].",
        "[Everyone|Half of {team}] [is|are] [getting|seeing] [a 403|'forbidden'|'session expired'] when they try to [open|sign into] the workspace.",
        "[I|We] [need|want] {role} to have access, but [the invite|the invitation] [keeps bouncing|never arrives].",
        "[After|Since] [changing|resetting] my password, [the app|{device}] [won't accept|rejects] [it|the new one].",
        "[I'm|I am] [signed into|stuck in] the wrong [workspace|organisation] and can't [switch|find mine].",
        "[Text message|SMS] codes [don't reach|aren't delivered to] my [phone|number] [when I'm abroad|since I changed carriers].",
        "[Please|Can you] [transfer|move] [ownership|the admin rights] to me; [the previous owner|{role}] [no longer works here|left].",
        "[My|Our] [security key|hardware key|passkey] [stopped|isn't] [working|being recognised] [on {device}|after an update].",
        "[It|The app] [won't|doesn't] [remember|keep] me [signed in|logged in]; I have to [log in|enter my password] [every single time|constantly].",
        "[Someone|I think someone] [changed my password|got into my account] and now I [can't|am unable to] [get back in|sign in].",
        "[The login page|The sign-in screen] [just|only] [spins|reloads|shows a blank box] [on {device}|{when}].",
        "[Our IP allowlist|The new office network|Our VPN] [seems to be|appears to be] [blocking|stopping] [us|staff] from [signing in|reaching the login].",
        "[I was invited|I got an invite] [with|to] [my old|a personal] email but [need|want] [access|to join] with my work one.",
        "[The door is shut|I'm shut out|I'm stuck outside]: [my credentials|the details I've always used] [no longer|don't] [work|get me through].",
        "[Ever since|Since] [the merge of our two workspaces|we moved to the new domain], [a few people|some staff] [can't reach|are blocked from] their [projects|{thing}].",
        "[Is my account frozen|Has my user been paused]? [Every attempt|Each try] [ends with|gives] [a vague error|'contact your administrator'].",
    ],
}

# Class-specific follow-ups: present in some tickets only, so they help without giving the label away.
ASKS: dict[str, list[str]] = {
    "account_cancellation": [
        "Please confirm once it's done.", "I don't want to be billed again.", "Please make sure nothing renews.",
        "Let me know if you need anything from me to wrap this up.", "No need to offer a discount, the decision is made.",
    ],
    "billing": [
        "Please refund the difference.", "Can you issue a corrected invoice?", "I'd like this credited back.",
        "Please fix this before the next renewal.", "Our books close on {weekday}, so sooner is better.",
    ],
    "bug_report": [
        "Is this a known issue?", "Is there a workaround?", "I can reproduce it every time.",
        "Clearing the cache didn't help.", "Happy to send a screen recording.",
    ],
    "data_privacy": [
        "Please confirm in writing.", "We need an answer for our compliance records.",
        "Please treat this as a formal request.", "I expect a response within the legal timeframe.",
        "Our auditors will ask for this.",
    ],
    "feature_request": [
        "Would love to hear if this is planned.", "Happy to give more detail on our use case.",
        "Several of us would use this daily.", "Is there somewhere to vote for ideas?",
        "It's the main thing the competition does better.",
    ],
    "how_to": [
        "A link to the right help article would be enough.", "I couldn't find it in the docs.",
        "Step-by-step instructions would be great.", "I feel like I'm missing something obvious.",
        "A short video would be perfect.",
    ],
    "login_access": [
        "I need to get in today.", "I have a deadline and can't work.",
        "I've already cleared cookies and tried another browser.", "Please help me regain access.",
        "My whole day is blocked until this is fixed.",
    ],
}

# Production (chat widget) messages: shorter, informal, partly different vocabulary.
CHAT: dict[str, list[str]] = {
    "account_cancellation": [
        "cancel my sub", "want to cancel", "how do i stop [the|] renewal", "close my account pls", "dont renew us",
        "done with this, cancel it", "we're leaving, end the plan", "stop billing me i want out", "downgrade me to free",
        "can we pause our plan", "shut down our workspace", "end [the|our] contract early?", "unsubscribe me from [pro|the paid plan]",
        "no longer need this [tool|app], how to quit", "we switched tools, kill the account", "not renewing fyi",
        "where's the [cancel|leave] button", "need to end [this|it] before next month",
    ],
    "billing": [
        "got charged twice", "why is my bill higher", "need refund asap", "double charge on my card",
        "need the receipt for last month", "price went up??", "you took money after [the|my] trial",
        "card declined but bank says ok", "where is my invoice", "charged for seats we dont have", "overcharged again",
        "can u send [the|an] invoice to finance", "i paid but it says unpaid", "whats this extra fee",
        "{amount} came out of my account, why", "wrong amount on invoice", "vat missing on receipt", "want my money back",
    ],
    "bug_report": [
        "app keeps crashing", "export is broken", "page wont load", "cant save anything", "its super slow today",
        "getting error 500", "notifs not working", "everything shows twice", "sync broken again",
        "blank screen after [the|] update", "button does nothing", "files wont upload", "numbers on [the|] report are wrong",
        "search not finding stuff", "{thing} is glitching", "app freezes on {device}", "my edits keep disappearing",
        "calendar shows wrong times",
    ],
    "data_privacy": [
        "delete all my data", "gdpr request", "stop emailing me", "who can see our files", "where is [our|my] data stored",
        "need the dpa signed", "do you sell my info", "remove me from marketing", "was my data leaked",
        "send me all [the|] data u have on me", "do you train ai on our stuff", "someone downloaded our contacts??",
        "is this gdpr compliant", "my info is public??", "forget me pls",
    ],
    "feature_request": [
        "pls add dark mode", "any plans for offline mode", "would love a calendar view", "can you add {app} integration",
        "need bulk edit", "wish i could export to excel", "add recurring tasks pls", "give us an api", "want more templates",
        "need custom fields", "mobile app needs more features", "make it possible to merge projects",
        "would be cool if {thing} had tags",
    ],
    "how_to": [
        "how do i add a user", "where do i change my email", "how to export csv", "how do i change the timezone",
        "where is the archive", "how to share with a client", "can i undo a delete", "how do i make someone admin",
        "where are the settings for notifs", "how to import contacts", "how to switch workspaces",
        "how do i rename a project", "how to print the {thing}", "where do i find old invoices", "how do i add my logo",
        "how to set a reminder",
    ],
    "login_access": [
        "cant get in", "locked out again", "pw reset not coming", "2fa code not working", "it keeps saying wrong password",
        "sso broken?", "stuck on login screen", "cant sign in on my phone", "how do i get back into my acct",
        "login loop pls help", "invite link says expired", "lost my phone need to get in", "account disabled??",
        "keeps kicking me to the sign in page", "new laptop, cant login", "verification code never shows up",
        "says my email doesnt exist", "admin left, nobody can get in",
    ],
}
CHAT_OPENERS = ["", "", "", "hi", "hey", "hello", "yo", "hi team", "hey there", "ok so", "sorry but", "quick q", "help", "urgent"]
CHAT_TAILS = [
    "", "", "", "pls", "please", "asap", "thx", "thanks", "??", "!!", ":(", ":/", "lol", "help", "again", "today",
    "any idea?", "pls fix", "ugh",
]
CHAT_JOINERS = ["also", "and", "oh and", "plus", "btw", ", also", "+"]
# Chat shorthand that production users type; applied word by word.
ABBREVIATIONS = {
    "you": "u", "please": "pls", "account": "acct", "password": "pw", "because": "bc", "thanks": "thx",
    "really": "rly", "don't": "dont", "can't": "cant", "i'm": "im", "doesn't": "doesnt", "won't": "wont",
    "your": "ur", "are": "r", "with": "w/", "before": "b4", "tomorrow": "tmrw", "people": "ppl",
}

_ALTERNATION = re.compile(r"\[([^\[\]]*)\]")
_SLOT = re.compile(r"\{(\w+)\}")


def _fill(template: str, rng: random.Random) -> str:
    """Expand "[a|b]" alternations and "{slot}" placeholders, then tidy spacing."""
    text = _ALTERNATION.sub(lambda m: rng.choice(m.group(1).split("|")), template)

    def slot(match: re.Match[str]) -> str:
        name = match.group(1)
        capital = name.endswith("_cap")
        value = rng.choice(SLOTS[name.removesuffix("_cap")])
        return value[:1].upper() + value[1:] if capital else value

    text = _SLOT.sub(slot, text)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.;:?!])", r"\1", text)
    text = text.strip()
    return text[:1].upper() + text[1:]


def _pick_core(label: str, rng: random.Random) -> str:
    return _fill(rng.choice(CORE[label]), rng)


def _other_label(label: str, rng: random.Random) -> str:
    return rng.choice([other for other in LABELS if other != label])


def _email_ticket(label: str, rng: random.Random, *, mixed_with: str | None = None) -> str:
    """A sample ticket: optional greeting and context, the intent, an optional ask and sign-off."""
    parts: list[str] = []
    if rng.random() < 0.55:
        parts.append(rng.choice(OPENERS))
    if rng.random() < 0.2:
        parts.append(_fill(rng.choice(PREFACES), rng))
    if rng.random() < 0.3:
        parts.append(_fill(rng.choice(CONTEXT), rng))
    parts.append(_pick_core(label, rng))
    if mixed_with is not None:
        parts.append(rng.choice(["Also,", "On a separate note,", "And while I'm here,", "Related:", ""]))
        parts.append(_pick_core(mixed_with, rng))
    elif rng.random() < 0.25:
        # A second paraphrase of the same intent, as people restate their problem.
        parts.append(_pick_core(label, rng))
    roll = rng.random()
    if roll < 0.25:
        parts.append(_fill(rng.choice(ASKS[label]), rng))
    elif roll < 0.55:
        parts.append(rng.choice(GENERIC_ASKS))
    if rng.random() < 0.5:
        parts.append(rng.choice(CLOSERS))
    text = " ".join(part for part in parts if part)
    if rng.random() < 0.05:
        text = text.lower()
    return text


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.random()
    if kind < 0.4:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # swap neighbours
    if kind < 0.7:
        return word[:i] + word[i + 1 :]  # drop a letter
    return word[:i] + word[i] + word[i:]  # double a letter


def _chattify(text: str, rng: random.Random, typo_rate: float = 0.07) -> str:
    """Turn a sentence into chat shorthand: lower case, abbreviations, typos, little punctuation."""
    words = []
    for word in text.lower().replace(",", "").rstrip(".?!").split():
        word = ABBREVIATIONS.get(word, word) if rng.random() < 0.7 else word
        words.append(_typo(word, rng) if rng.random() < typo_rate else word)
    return " ".join(words)


def _chat_intent(label: str, rng: random.Random) -> str:
    if rng.random() < 0.3:
        # Some chat users still describe the problem the way e-mail tickets do, only shorter and sloppier.
        return _chattify(_pick_core(label, rng), rng)
    return _chattify(_fill(rng.choice(CHAT[label]), rng), rng, typo_rate=0.05)


def _chat_message(label: str, rng: random.Random, *, mixed_with: str | None = None) -> str:
    parts = [rng.choice(CHAT_OPENERS), _chat_intent(label, rng)]
    if mixed_with is not None:
        parts += [rng.choice(CHAT_JOINERS), _chat_intent(mixed_with, rng)]
    parts.append(rng.choice(CHAT_TAILS))
    text = " ".join(part for part in parts if part)
    return text.replace(" , ", ", ").strip()


def _allocate(total: int, mix: dict[str, float]) -> dict[str, int]:
    """Split ``total`` rows by ``mix`` (largest remainder); every label gets a row when total allows."""
    raw = {label: total * share / sum(mix.values()) for label, share in mix.items()}
    counts = {label: int(value) for label, value in raw.items()}
    by_remainder = sorted(mix, key=lambda label: (-(raw[label] - counts[label]), label))
    for label in by_remainder[: total - sum(counts.values())]:
        counts[label] += 1
    if total >= len(mix):
        for label in mix:
            if counts[label] == 0:
                donor = max(counts, key=lambda other: (counts[other], other))
                counts[donor] -= 1
                counts[label] = 1
    return counts


def _rows(total: int, mix: dict[str, float], mixed_share: float, rng: random.Random, chat: bool) -> list[dict]:
    make = _chat_message if chat else _email_ticket
    rows = []
    for label, count in _allocate(total, mix).items():
        for _ in range(count):
            if rng.random() < mixed_share:
                # Two intents in one message: the label is the one the annotator judged primary,
                # usually but not always the first mentioned, so these stay genuinely ambiguous.
                other = _other_label(label, rng)
                text = make(label, rng, mixed_with=other) if rng.random() < 0.7 else make(other, rng, mixed_with=label)
            else:
                text = make(label, rng)
            noisy = rng.random() < LABEL_NOISE
            rows.append({"text": text, "label": _other_label(label, rng) if noisy else label})
    rng.shuffle(rows)
    return rows


def generate(seed: int = 7, rows: int = 2000, production_rows: int = 400) -> tuple[list[dict], list[dict]]:
    """Return (baseline sample, production sample), each a list of {"text", "label"}; deterministic per seed."""
    sample = _rows(rows, SAMPLE_MIX, SAMPLE_MIXED_SHARE, random.Random(f"sample-{seed}"), chat=False)
    production = _rows(
        production_rows, PRODUCTION_MIX, PRODUCTION_MIXED_SHARE, random.Random(f"production-{seed}"), chat=True
    )
    return sample, production


def _write_csv(path: pathlib.Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(rows)


def write_demo_files(directory: pathlib.Path, seed: int = 7) -> dict[str, pathlib.Path]:
    """Write support_tickets.csv and production_sample.csv (header text,label) into ``directory``."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sample, production = generate(seed=seed)
    paths = {"sample": directory / "support_tickets.csv", "production": directory / "production_sample.csv"}
    _write_csv(paths["sample"], sample)
    _write_csv(paths["production"], production)
    return paths
