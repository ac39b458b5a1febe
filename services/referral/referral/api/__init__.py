from referral.api.deliveries import router as deliveries
from referral.api.feed import router as feed
from referral.api.partner import router as partner
from referral.api.partners import router as partners
from referral.api.referrals import router as referrals

routers = [referrals, partners, partner, feed, deliveries]
