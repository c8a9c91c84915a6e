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
        "This will be our last month with you.",
        "We won't be continuing after the current term.",
        "Time to say goodbye; the team has voted to move on.",
        "Please make this the final invoice we ever receive.",
        "I'm closing up shop and have no further use for the workspace.",
        "Our contract ends in June and we'd rather not extend it.",
        "We're not going to re-up when the annual term finishes.",
        "Could you wind things down so that our seats lapse at month end?",
        "The decision has been made upstairs to discontinue this subscription.",
        "I'd like out of the auto-renewing arrangement.",
        "Please end my plan now rather than at renewal.",
        "Nobody has opened the app since spring, so let's call it quits.",
        "We found something that suits us better and will be leaving.",
        "Kindly treat this message as our notice of termination.",
        "How much notice do you need before we walk away from the contract?",
        "I'm writing to give notice that we're ending the service.",
        "Let the subscription expire; do not extend it.",
        "We'd like to stop at the end of the paid period and not continue.",
        "Our budget got cut, and this tool is one of the casualties.",
        "I moved to a new job and the old company account can be shut.",
        "Please terminate all seats and the base plan effective today.",
        "My side project is over, no need to keep the workspace running.",
        "Can the account be closed without me having to phone anyone?",
        "We're consolidating vendors and yours is being phased out.",
        "I've had enough of the constant changes, please let me go.",
        "Switching off the service is the plan; what's the earliest date you can do it?",
        "Instead of the paid tier I'd like to revert to nothing at all.",
        "Please don't roll our licence over into another year.",
        "I want to quit the monthly plan and not be tied in.",
        "Our nonprofit lost its grant and can't keep any paid tools.",
        "After much thought we're ending our relationship with your product.",
        "Please drop us from the list of renewing customers.",
        "We'd like to discontinue and get written confirmation of the end date.",
        "This subscription was for a client who has since left us; please end it.",
        "Reduce us to zero seats and then close the whole thing.",
        "We're done with the pilot; please don't convert it into a paid plan.",
        "I need to terminate before the next term kicks in.",
        "We don't want the upcoming year; stopping here.",
        "Is it possible to end things today and not wait for the cycle to finish?",
        "I'm not interested in continuing, even at a lower price.",
        "Please retire our workspace; the project it supported is complete.",
        "We'd like our membership to lapse quietly at the end of the term.",
        "Please close the extra workspace we opened by accident and stop its plan.",
        "Go ahead and end everything on our side; we've exported what we need.",
        "Our office is relocating overseas and we'll use a local provider there.",
        "Please stop the service for our branch; head office will handle the rest.",
        "The tool was too complicated for our staff, so we're leaving.",
        "No renewal for us this time, thank you for everything.",
        "I'd prefer to walk away now and forfeit the remaining days.",
        "Please note we're opting out of the next contract period.",
        "We want to end our agreement and take our business elsewhere.",
        "Our trial ends tomorrow and we will not be upgrading.",
        "I'm retiring the account I made for my side business.",
        "Please switch us off at midnight on the last day of the term.",
        "We've stopped trading, so the subscription can be ended.",
        "Is leaving as simple as removing the card, or is there a form?",
        "Please end the plan attached to this email address.",
        "Two of the three founders have left and the remaining one wants out too.",
        "I'd like to leave but keep read-only access to old records for a while; is that an option?",
        "We won't need the service after the season ends, so please stop it then.",
        "Don't extend our deal; we're letting it run out.",
        "Wrap up our plan at the end of the billing term, please.",
        "We'd like to part ways amicably at the next renewal date.",
        "Where do I go to end my paid membership?",
        "Please deactivate the organisation and release the seats.",
        "We've outgrown the product and are migrating away.",
        "The school year is over, so our classroom workspace can be ended.",
        "Our parent company mandates a single vendor, and it isn't you.",
        "Please terminate my personal plan; my employer pays for a team one now.",
        "This is my formal request to stop the subscription and not be renewed.",
        "We're moving back to spreadsheets; they do what we need for free.",
        "The contract lapses in {n} days and nobody here wants it extended.",
        "Please stop everything tied to our {plan} workspace at the end of the {period}.",
        "We hereby withdraw from the service agreement.",
        "The experiment didn't work out for {team}; we'd like to close up.",
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
        "The amount that left our account this {period} is higher than we agreed.",
        "My statement lists your company twice on the same day.",
        "I don't recognise a {amount} line from you on my credit card.",
        "We seem to be paying for more licences than we actually have.",
        "The receipt says Pro but we're on Starter; which is right?",
        "A charge came through after I thought everything was settled.",
        "Can I get reimbursed for the days the service was down?",
        "Our accountant needs invoices that show tax separately.",
        "Money was deducted even though I hadn't confirmed the upgrade.",
        "Your renewal notice quoted one figure and the debit was another.",
        "Please split the invoice between our two departments.",
        "We were promised a credit that never showed up on the next bill.",
        "The card on file expired; will that cause problems with the next payment?",
        "I'd like to change from monthly to yearly billing to save money.",
        "The sales tax rate you applied is wrong for our state.",
        "Please resend last quarter's statements; they went to an old inbox.",
        "How do refunds work if I downgrade halfway through the term?",
        "We're being invoiced in the wrong currency.",
        "There's a discrepancy between what the dashboard says we owe and what was taken.",
        "Is there any way to get the annual price without paying upfront?",
        "You debited us on the 1st and again on the 3rd.",
        "Our purchase order number has to appear on every invoice or it won't be paid.",
        "The seats I removed are still on the bill.",
        "The coupon code was accepted but the total didn't change.",
        "I was told we'd get the first month free; instead we paid full price.",
        "Can you waive the late fee? The delay was on our bank's side.",
        "My employer should be paying for this, not my personal card.",
        "Please move the billing contact to our finance lead.",
        "The direct debit bounced and now there's a penalty.",
        "I'd like an explanation of each line on this month's statement.",
        "Our reseller says they paid you, but you show us as owing.",
        "We're a registered charity; do you offer reduced pricing?",
        "Why did my total jump after adding one person?",
        "I need the invoice addressed to our head office, not the branch.",
        "The yearly renewal took me by surprise; I'd like it reversed.",
        "Our credit note from last quarter hasn't been applied.",
        "Can I pay with PayPal instead of a card?",
        "Please stop charging the old company card; it's been closed.",
        "The quote we signed was per team, but you're pricing per user.",
        "I was refunded the wrong amount.",
        "The bill is in dollars but we agreed on euros.",
        "Is the price on your site with or without tax?",
        "Our finance system rejected your invoice because the bank details changed.",
        "I'd like to prepay for two years if there's a discount.",
        "We paid the invoice twice by mistake; please return one.",
        "A chargeback was opened by my bank; I'd rather settle it with you directly.",
        "Since the price change, our costs have nearly doubled.",
        "Why is there a charge for an add-on I removed?",
        "Could you confirm the amount and date of our next payment?",
        "I need your remittance details and tax form for our supplier file.",
        "The overage fee for storage seems far too high.",
        "Our payment was taken but no receipt was emailed.",
        "Where can I see how much we've spent with you this year?",
        "Can the invoice show our legal entity name instead of the trading name?",
        "I've been paying for two workspaces when I only need one.",
        "The discount for annual billing wasn't applied.",
        "We expected to be billed in arrears, not in advance.",
        "Someone at your end promised to fix our overcharge last month; still waiting.",
        "I want a partial refund for the unused seats.",
        "The invoice number is duplicated, which our system won't accept.",
        "Please reissue the invoice with the correct postcode.",
        "My card was hit three times for one purchase.",
        "I'd like to dispute this {period}'s fee.",
        "The amount owed keeps growing even though we pay every month.",
        "Please explain the difference between the quote and the final bill.",
        "{amount} vanished from our company account and the memo just has your name on it.",
        "We're getting dunning emails for a balance that's already cleared.",
        "The loyalty pricing we had for years quietly disappeared.",
        "Could the monthly cost be spread across two cards?",
        "Why does the checkout add a processing surcharge?",
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
        "Nothing happens when I press the button to send the {thing}.",
        "The {thing} shows yesterday's figures no matter how often I reload.",
        "Half the screen goes white after I open a second tab.",
        "Entries I typed an hour ago have vanished.",
        "The app spins and spins and never shows the {thing}.",
        "My phone app shuts itself the moment I tap on a notification.",
        "Every time I upload a picture, it rotates sideways.",
        "The reminder went off at 3am instead of 3pm.",
        "The totals column shows 'NaN' instead of a number.",
        "I'm seeing a stranger's name on my profile page.",
        "The dropdown list is empty even though we have options set up.",
        "Moving a card on the board makes it jump back to where it was.",
        "The download starts and then fails at about 80 percent.",
        "Text I paste from Word ends up full of odd symbols.",
        "The calendar skips a week when I click next.",
        "Our logo appears stretched on every page since the redesign.",
        "The mobile version cuts off the bottom of every form.",
        "A weird popup keeps appearing and won't close.",
        "Links in the emails you send lead to a 404 page.",
        "The app drains my battery in about an hour.",
        "Tabs in the {thing} stopped switching when I click them.",
        "I typed a long note and the page refreshed, wiping it.",
        "Scrolling past row 100 makes everything freeze up.",
        "Saved filters load the wrong columns.",
        "Numbers with decimals get rounded to whole numbers for no reason.",
        "I hit 'done' on a task and it reopened itself.",
        "Keyboard shortcuts trigger the wrong action.",
        "Copying a {thing} leaves out all the attachments.",
        "After today's update the sidebar is gone.",
        "The preview looks fine, but the final version has missing pages.",
        "Currency symbols disappear when the {thing} is exported.",
        "Two people got the same reminder five times each.",
        "The time tracker kept counting after I stopped it.",
        "Search is case-sensitive all of a sudden, which it wasn't before.",
        "My avatar reverted to the default grey circle.",
        "The app throws me back to the home screen randomly.",
        "The weekly summary email arrived completely empty.",
        "The progress indicator is stuck at 0 percent.",
        "A loading placeholder just stays there forever.",
        "Page numbers on the printout are all 1.",
        "The map view shows every location in the ocean.",
        "Editing a recurring event changes all past ones too.",
        "There's a spelling underline on every single word.",
        "Items marked private are showing up in the shared view.",
        "The sound for new messages plays constantly.",
        "Typing in the comments box jumps the cursor to the start.",
        "The 'remember my choice' box doesn't remember anything.",
        "The barcode scanner in the app reads nothing.",
        "A big grey box covers the top of the page on my tablet.",
        "The {thing} loads with all fields showing zero.",
        "The app says I'm offline when I clearly have internet.",
        "Dragging files into the window does nothing.",
        "Charts show last year's labels on this year's figures.",
        "The form won't submit if a name has an apostrophe in it.",
        "Selecting all and removing them only gets rid of the first item.",
        "Some rows repeat three times in the printed version.",
        "The desktop app hangs on the splash screen.",
        "Zooming out makes the text overlap into gibberish.",
        "The 'mark as read' option marks everything unread instead.",
        "Our automated rule ran twice and created duplicates.",
        "Since {weekday} the page flickers constantly on my monitor.",
        "The status shows 'sending' for messages that went out days ago.",
        "Adding a fourth column breaks the whole layout.",
        "The {thing} opens, but every field is read-only for no reason.",
        "The app crashed mid-sync and now some records are doubled.",
        "Autocomplete suggests names that were removed ages ago.",
        "The sum at the bottom ignores anything added today.",
        "Our embedded form on the website shows a grey rectangle instead.",
        "Tooltips cover the very buttons they describe and never go away.",
        "When I rotate my tablet the {thing} goes back to the top and loses my edits.",
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
        "What personal information do you store about our customers, exactly?",
        "I want every trace of my profile removed, not just deactivated.",
        "Please send me everything you have on file about me in a readable format.",
        "Is our client information ever shared with advertisers?",
        "Who else can view what I upload to your platform?",
        "Our regulator requires us to know where backups physically sit.",
        "Can you confirm you don't sell or rent user details?",
        "I'd like my name and contact details stripped from your records.",
        "Do your staff in other countries have access to our records?",
        "Please provide a copy of your privacy policy and any recent changes.",
        "Our school needs assurance that student details stay confidential.",
        "How quickly will you tell us if there's ever a breach?",
        "Please stop tracking my activity for analytics purposes.",
        "I think my details were leaked after I signed up; how did that happen?",
        "We need a written statement on how long logs are kept.",
        "Is information encrypted while it travels between our office and your servers?",
        "My former employer still has my personal profile in their workspace; can it be removed?",
        "Could you tell me which cookies the site sets and why?",
        "Do you process health information, and if so, under what safeguards?",
        "I want to correct inaccurate personal details you hold about me.",
        "Please restrict processing of my details while my complaint is reviewed.",
        "Our data protection officer asks whether you have an EU representative.",
        "Is there a way to keep patient names out of your cloud entirely?",
        "We received a subject access request from a client and need your help answering it.",
        "How are removed records purged from backups, and how long does it take?",
        "I never agreed to my profile photo being public.",
        "Please confirm that our uploads aren't used to improve your models.",
        "Does anyone at your company review the content of our messages?",
        "I'd like the audit trail of who accessed my personal profile.",
        "Can we sign standard contractual clauses with you?",
        "Which countries do your subcontractors operate from?",
        "I want my phone number removed from everything.",
        "The app shared my location without asking; why?",
        "Are voice recordings kept after transcription?",
        "We need to know if you're certified for handling card details securely.",
        "Please tell me who sold you my email address.",
        "How do you vet employees who can see customer records?",
        "What happens to our information if your company is acquired?",
        "Do you keep IP addresses, and for how long?",
        "I'm a parent and want my child's details erased from your service.",
        "Our insurer wants proof of your security controls.",
        "Please disable any third-party tracking on our client portal.",
        "I received a stranger's personal details in an email from you.",
        "We'd like to run a privacy impact assessment; can you fill in our form?",
        "Is there a setting to auto-purge old records after two years?",
        "Please confirm that my request to be forgotten has been completed.",
        "A stranger contacted me using details that only your service had.",
        "Do you share usage statistics with your investors or partners?",
        "We want our records kept on servers in our own country only.",
        "Please produce the consent records you hold for my account.",
        "What legal basis do you rely on to process my information?",
        "Your newsletter keeps arriving after I asked to be taken off.",
        "Are support chat conversations stored, and who reads them?",
        "I'm worried the browser extension reads pages it shouldn't.",
        "Do you carry out background checks on staff with database access?",
        "We need to be notified before any new subcontractor gets our records.",
        "Please purge the contact list I uploaded by mistake from your servers entirely.",
        "Can you explain your retention schedule for closed workspaces?",
        "Which of your partners receive my browsing behaviour?",
        "Our clients' addresses must never leave the EU; please confirm.",
        "Has a government agency ever requested our information from you?",
        "Please mask card numbers and ID numbers in the records you keep.",
        "I'd like a full list of devices and locations that accessed my profile.",
        "Is it true that you keep a copy of everything even after closing an account?",
        "Why does your app need permission to read my calendar?",
        "Our counselling notes are sensitive; who on your side could ever open them?",
        "I object to being profiled for marketing and want that switched off.",
        "Your cookie banner has no option to refuse; that isn't compliant.",
        "We need assurance that screenshots sent to support are destroyed afterwards.",
        "How do I know an ex-employee's personal files were fully wiped from your side?",
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
        "It would save us a lot of time if the {thing} could be filled in automatically.",
        "Our wish list: a way to assign one task to several people.",
        "I'd find a night theme much easier on the eyes.",
        "Any chance of a Linux version of the desktop app?",
        "The app would be perfect if it worked with our barcode scanners.",
        "We'd be thrilled to see a built-in time tracker.",
        "Please let us customise the email templates the system sends.",
        "I'd use a split-screen view every single day.",
        "Would you think about letting us set working hours per person?",
        "A simple kanban board would make this tool complete for us.",
        "Please allow more than one owner per workspace.",
        "Our team keeps asking for a way to comment on individual lines.",
        "Could future versions let us lock a {thing} once it's approved?",
        "A chat feature inside the app would cut down on our email.",
        "It would help to have a reporting view that compares months side by side.",
        "We'd value a way to archive instead of delete.",
        "Could you add a sandbox where we can test changes safely?",
        "Sub-tasks would be a really welcome addition.",
        "A smartwatch app would let our field staff check in faster.",
        "Please let us upload our own icons.",
        "Could the system suggest due dates based on past work?",
        "I'd like the ability to mention teammates with an @ sign.",
        "We'd love a public status page we can share with clients.",
        "Having a read-only link option would make sharing so much easier.",
        "Some sort of mileage log would be handy for our drivers.",
        "Support for e-signatures is the one thing we're missing.",
        "We'd like to see bulk actions on the {thing}, like move and archive.",
        "Give us a way to see workload per person at a glance.",
        "Could you add more granular notification choices?",
        "A template gallery from other customers would inspire us.",
        "Please consider adding SMS reminders for our customers.",
        "I'd love to be able to set a custom domain for the client portal.",
        "Make it possible to attach voice memos to tasks.",
        "Multi-language support would open the tool to our overseas staff.",
        "It would be nice if the {thing} could have a cover image.",
        "Please add an option to round times to the nearest quarter hour.",
        "A command palette like in code editors would speed things up.",
        "We need formulas in custom fields, even simple ones.",
        "I wish there were a way to snooze items until a later date.",
        "Can the home screen be customised with widgets we choose?",
        "Adding a countdown to deadlines would really help us.",
        "Could the app learn our most-used categories and suggest them?",
        "An integration with our phone system would be brilliant.",
        "It would be helpful to nest folders more than two levels deep.",
        "We'd like the ability to schedule a message to send later.",
        "Please offer a low-bandwidth mode for our rural offices.",
        "A portal where clients can upload files directly would be ideal.",
        "Spell check in other languages would be much appreciated.",
        "We would pay more for priority phone support.",
        "An easier way to compare two versions of the {thing} would be great.",
        "Accessibility improvements, like screen reader labels, would help our staff.",
        "Please let us choose the first day of the week.",
        "Could there be a simple survey tool built in?",
        "We'd like to embed a booking widget on our own site.",
        "Colour-blind friendly palettes would be a great addition.",
        "A 'focus mode' that hides everything but my tasks would be lovely.",
        "Please add the ability to bring things over from our old project tool.",
        "Some kind of points or badges for completed tasks might motivate the team.",
        "It'd be handy to have a quick-add button on the lock screen.",
        "Please think about supporting inventory tracking in the next release.",
        "I'd like to be able to star comments for later.",
        "Could guest users get a simplified view?",
        "Let us set different reminder times for different clients.",
        "We'd really like location-based check-ins for site visits.",
        "Please build a way to print labels straight from the {thing}.",
        "Wouldn't it be neat if the {thing} could predict next month from the trend?",
        "Our field crew dreams of photo annotations right inside the app.",
        "A dedicated tablet layout for the front desk is overdue.",
        "Let managers approve leave requests inside the tool rather than by email.",
        "Please bring the desktop app's split view to phones as well.",
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
        "What are the steps to give a client view-only access to one {thing}?",
        "I'm trying to work out how to group entries by client.",
        "Where would I find the option to hide weekends on the calendar?",
        "Is there a guide for setting up the app for the first time?",
        "Could you explain how tags differ from categories?",
        "How do I stop a single person from getting reminder emails?",
        "What's the right way to close out a finished project?",
        "How can I see everything assigned to me across all projects?",
        "Where do I set my working hours so people know when I'm available?",
        "I'd like to know how to add a signature to outgoing emails.",
        "Is it possible to undo changes made yesterday, and where?",
        "How does the mobile app handle things when there's no signal?",
        "What do the coloured dots next to each item mean?",
        "How do I attach a receipt photo to an expense?",
        "Which plan are we on and where can I see that?",
        "How would I go about setting up a shared inbox?",
        "What's the quickest way to find an old message?",
        "Can you tell me how to set up a rule that assigns new requests automatically?",
        "How do I change the language of the interface?",
        "Where's the option to make a field required?",
        "I want to send one {thing} to three clients at once; how?",
        "How do I set someone as a backup approver while I'm on holiday?",
        "How can I make the text bigger in the app?",
        "Where can I find the list of keyboard shortcuts?",
        "What's the difference between archiving and removing?",
        "How can I tell whether a client has opened what I sent?",
        "Where do I upload our holiday calendar?",
        "How do I set a default view for the whole team?",
        "Could you remind me how to turn on offline access?",
        "Where can I grab all my attachments in one go?",
        "Can I merge two duplicate contacts, and how?",
        "What's the process for moving my personal items into the team space?",
        "How should we set things up so each department only sees its own work?",
        "How do I pin something to the top of the list?",
        "Where do I change how dates are displayed?",
        "How do I add a second phone number to a contact?",
        "What's the proper way to hand over my work before I go on leave?",
        "Is there a walkthrough on creating custom reports?",
        "Where in settings can I rename the status columns?",
        "How can I get the app to open on my tasks rather than the home page?",
        "Can you explain how the approval flow is supposed to work?",
        "How do I set up a template so new projects start with the same tasks?",
        "Where can I see a history of everything I've sent?",
        "What's the best way to train new staff on the basics?",
        "How do I mark something as urgent?",
        "How do I embed the booking form on our website?",
        "I'm lost trying to add a custom field; which menu is it in?",
        "How do I move an item between boards without losing its comments?",
        "What happens to a person's tasks when I take them off the team, and how do I reassign them?",
        "How can I check how much storage we've used?",
        "Where do I turn on the weekly digest?",
        "How can I get a printable version of the {thing}?",
        "Is there a way to colour-code items, and where do I do it?",
        "How do I connect my calendar so appointments show up?",
        "How do I set a task to repeat every other week?",
        "What does the 'sync now' option actually do?",
        "How do I let a temporary worker in for a week only?",
        "Where do I enter our company's address for documents?",
        "Could you describe how permissions are inherited by sub-folders?",
        "How do I restore the default layout after I've messed it up?",
        "Where do I see which devices are signed in to my profile?",
        "How do I filter the {thing} to show only overdue items?",
        "Can I set different currencies per client, and how?",
        "How do I bulk-assign a tag to a hundred items?",
        "I'm not sure how to share my screen during a call in the app.",
        "Walk me through sending the {thing} as a link rather than an attachment.",
        "Which button turns a draft into something clients can see?",
        "Where does the app keep things I've put in the bin?",
        "Any tips for setting up the {thing} so {team} can find things quickly?",
        "Remind me where the setting for the default due time lives?",
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
        "Every time I enter my details the page just reloads.",
        "The code you text me arrives after it has already expired.",
        "I'm being told my user has been disabled by an administrator.",
        "Our new starter still can't get past the welcome screen.",
        "I changed phones and the authenticator didn't move over.",
        "The site says my session has ended every couple of minutes.",
        "Nobody on my team can get past the sign-in page today.",
        "The invite email went to my spam, and now the link is dead.",
        "I'm sure the password is correct but it keeps getting rejected.",
        "I need my access restored urgently; I was removed by mistake.",
        "Our company SSO sends me to an error page instead of the app.",
        "My username was changed and I don't know the new one.",
        "I can get in on my phone but not on the computer.",
        "After the domain change, my old email no longer lets me in.",
        "Please help, I'm locked out and my admin is on holiday.",
        "The 'forgot password' button does nothing.",
        "I'm getting a message that my organisation has blocked my access.",
        "Two-step verification keeps asking for a code I never get.",
        "I accidentally removed my authenticator entry and can't sign in.",
        "It keeps sending me back to choose a workspace, then kicks me out.",
        "My colleague's invitation link says it's already been used.",
        "Since the security update, my saved password won't work.",
        "I was logged out and now it asks for a recovery code I never saved.",
        "It says too many attempts, try again later, but later never comes.",
        "The app opens to a blank page instead of the sign-in form.",
        "My access was downgraded to guest and I can't open my own projects.",
        "How do I recover my profile if I no longer have that email address?",
        "The email verification link loops me back to the verification page.",
        "I can't reach my account because the phone number on it is old.",
        "Our contractor's access expired and we need it extended.",
        "When I sign in with Apple it creates a new empty account.",
        "My password manager fills it in but the site says it's wrong.",
        "I need to get into a departed colleague's workspace to hand over their work.",
        "The login button is greyed out no matter what I type.",
        "I set up a new password, but the old one still works and the new one doesn't.",
        "Please reset my two-factor so I can enrol my new phone.",
        "After reinstalling the app I can't get back into my profile.",
        "I'm told the workspace doesn't exist when I follow our usual link.",
        "I can reach the mobile app but the web portal rejects me.",
        "We locked ourselves out by turning on a strict sign-in rule.",
        "Your system thinks I'm a robot and won't let me sign in.",
        "I was never sent the activation email for my new profile.",
        "Could you unblock my IP? I think I got flagged after mistyping.",
        "The company directory sync removed me and now I can't enter.",
        "I have two profiles and can only reach the wrong one.",
        "Every browser gives me the same 'unauthorised' message.",
        "I'm the admin but the admin pages say I lack permission.",
        "The temporary password you sent doesn't work.",
        "I'd like to regain entry to our workspace after our admin left abruptly.",
        "My login worked yesterday and today it says the account is unknown.",
        "Please unfreeze my profile; I need to submit timesheets.",
        "My backup codes are all used and I'm stuck.",
        "I keep getting bounced back to the start after entering my code.",
        "Our team's passkeys stopped working on the new laptops.",
        "Signing in through the mobile browser fails every time.",
        "Access for our auditors was revoked early; can you reinstate it?",
        "The system won't let me set a new password; it says it breaks the rules but it doesn't.",
        "I was signed out on all devices and can't get back in on any.",
        "The link in the welcome email takes me to a page saying access denied.",
        "Our shared front-desk login has stopped working.",
        "I've been waiting for the unlock email for an hour.",
        "The code field only accepts five digits but I got six.",
        "Since the email migration, no one receives the sign-in codes.",
        "I need to get into the old workspace to retrieve files, but my login was removed.",
        "I tried every password I've ever used; none get me in.",
        "The page asks me to verify my identity but never says how.",
        "My credentials work for {team} but not for the second workspace I belong to.",
        "Please let me back in; I've got clients waiting and the door is shut.",
        "The one-time link lands me on a page that just says 'unauthorised request'.",
        "I'm stuck at the stage where it wants a code from a phone I no longer own.",
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


# How often each optional part appears in a sample ticket (probabilities).
EMAIL_STYLE = {
    "opener": 0.55,
    "preface": 0.2,
    "context": 0.3,
    "restate": 0.12,
    "class_ask": 0.15,
    "generic_ask": 0.3,
    "closer": 0.5,
    "typos": 0.2,
    "typo_rate": 0.06,
    "lowercase": 0.05,
}


def _email_ticket(label: str, rng: random.Random, *, mixed_with: str | None = None) -> str:
    """A sample ticket: optional greeting and context, the intent, an optional ask and sign-off."""
    style = EMAIL_STYLE
    parts: list[str] = []
    if rng.random() < style["opener"]:
        parts.append(rng.choice(OPENERS))
    if rng.random() < style["preface"]:
        parts.append(_fill(rng.choice(PREFACES), rng))
    if rng.random() < style["context"]:
        parts.append(_fill(rng.choice(CONTEXT), rng))
    parts.append(_pick_core(label, rng))
    if mixed_with is not None:
        parts.append(rng.choice(["Also,", "On a separate note,", "And while I'm here,", "Related:", ""]))
        parts.append(_pick_core(mixed_with, rng))
    elif rng.random() < style["restate"]:
        # A second paraphrase of the same intent, as people restate their problem.
        parts.append(_pick_core(label, rng))
    roll = rng.random()
    if roll < style["class_ask"]:
        parts.append(_fill(rng.choice(ASKS[label]), rng))
    elif roll < style["class_ask"] + style["generic_ask"]:
        parts.append(rng.choice(GENERIC_ASKS))
    if rng.random() < style["closer"]:
        parts.append(rng.choice(CLOSERS))
    text = " ".join(part for part in parts if part)
    if rng.random() < style["typos"]:
        # Tickets typed in a hurry: a few slips of the finger.
        text = " ".join(_typo(w, rng) if rng.random() < style["typo_rate"] else w for w in text.split())
    if rng.random() < style["lowercase"]:
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
